// What cilium-agent refuses when it parses a policy (pkg/policy/api/rule_validation.go: the rules' Validate and
// PortRule.sanitize). The
// agent imports a CiliumNetworkPolicy whole or not at all (its Parse stops at the first bad spec), so a refused
// policy has no effect: none of its rules, and no default deny. Only the checks a policy that passed the CRD's
// schema can still fail are modelled; both the shadow's compile and the reference evaluator read them from here.
import type { KubeObject } from '../model/k8s.js';
import type { CiliumRuleSpec, PortProtocol, PortRule } from './types.js';

/** Cilium's ParseL4Proto: upper case, and an omitted protocol is ANY. */
export function l4Proto(p: PortProtocol): string {
  return p.protocol ? p.protocol.toUpperCase() : 'ANY';
}

function portRuleError(pr: PortRule, ingress: boolean): string | undefined {
  const rules = pr.rules as { http?: unknown[]; dns?: unknown[] } | undefined;
  const dns = (rules?.dns?.length ?? 0) > 0;
  const l7 = (rules?.http?.length ?? 0) + (rules?.dns?.length ?? 0) > 0;
  if (ingress && dns) return 'DNS rules are not allowed on ingress';
  if (!l7) return undefined;
  for (const po of pr.ports ?? []) {
    // HTTP needs the proxy's TCP listener: ANY (or no protocol) is refused too, not narrowed to TCP
    if (!dns && l4Proto(po) !== 'TCP') return `L7 rules can only apply to TCP (not ${l4Proto(po)}) except for DNS rules`;
  }
  if ((pr.ports ?? []).some((po) => /^0+$/.test(String(po.port ?? '')))) return 'L7 rules can not be used when a port is 0';
  return undefined;
}

const INGRESS_L3 = ['fromEndpoints', 'fromCIDR', 'fromCIDRSet', 'fromEntities', 'fromNodes', 'fromGroups'];
const EGRESS_L3 = ['toEndpoints', 'toCIDR', 'toCIDRSet', 'toEntities', 'toServices', 'toFQDNs', 'toGroups', 'toNodes'];
const cap = (k: string) => k[0]!.toUpperCase() + k.slice(1);

/** IngressCommonRule.Validate / EgressCommonRule.Validate: one kind of peer selector per rule, and ICMP rules apart
 * from toPorts. */
function ruleError(r: Record<string, unknown>, l3: string[]): string | undefined {
  const used = l3.filter((k) => Array.isArray(r[k]) && (r[k] as unknown[]).length > 0);
  if (used.length > 1) return `combining ${cap(used[0]!)} and ${cap(used[1]!)} is not supported yet`;
  const icmps = Array.isArray(r['icmps']) && (r['icmps'] as unknown[]).length > 0;
  if (icmps && Array.isArray(r['toPorts']) && (r['toPorts'] as unknown[]).length > 0) return 'the ICMPs block may only be present without ToPorts';
  return undefined;
}

function specError(spec: CiliumRuleSpec): string | undefined {
  const s = spec as Record<string, unknown>;
  for (const [field, l3] of [['ingress', INGRESS_L3], ['ingressDeny', INGRESS_L3], ['egress', EGRESS_L3], ['egressDeny', EGRESS_L3]] as const) {
    for (const [i, r] of ((s[field] as Record<string, unknown>[] | undefined) ?? []).entries()) {
      const e = ruleError(r, l3);
      if (e) return `${field}[${i}]: ${e}`;
    }
  }
  for (const [list, ingress] of [[spec.ingress, true], [spec.egress, false]] as const) {
    for (const r of list ?? []) for (const pr of r.toPorts ?? []) {
      const e = portRuleError(pr, ingress);
      if (e) return e;
    }
  }
  return undefined;
}

/** Why the agent refuses this CiliumNetworkPolicy / CiliumClusterwideNetworkPolicy, or undefined when it imports it. */
export function ciliumRejects(p: KubeObject): string | undefined {
  const o = p as unknown as { spec?: CiliumRuleSpec; specs?: CiliumRuleSpec[] };
  const named: [string, CiliumRuleSpec][] = [...(o.spec ? [['spec', o.spec] as [string, CiliumRuleSpec]] : []), ...(Array.isArray(o.specs) ? o.specs.map((s, i) => [`specs[${i}]`, s] as [string, CiliumRuleSpec]) : [])];
  for (const [name, s] of named) {
    const e = specError(s);
    if (e) return `${name}: ${e}`;
  }
  return undefined;
}
