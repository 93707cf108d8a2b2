// Compiles the translated plan (CiliumNetworkPolicies of one namespace) into shadow-probe's config
// (shadow-probe/README.md "Config file"): one identity per pod (Cilium gives one per label set; pods of the
// same workload would share it, here every pod is distinct, which only refines the verdict), ipcache entries,
// policy entries per (selected pod, peer identity, port) and L7 allow rules; plus the rule table that maps
// every ruleId back to the plan resource and rule, so the diff can name the rule on the eBPF side.
import type { KubeObject } from '../model/k8s.js';
import type { CiliumRuleSpec, IngressRule, PortRuleHTTP } from '../cilium/types.js';
import { ciliumLabels, compileSelector } from '../cilium/labels.js';
import { ciliumRejects, l4Proto } from '../cilium/admission.js';
import type { HttpConditions, InboundCapture, L7Rule, RuleRef, ShadowPod } from './types.js';
import { compileConditions } from './http-conditions.js';
import { l7RulesOf } from './l7-peers.js';
import { CidrIdentities } from './cidr-identities.js';
import type { PortGrant } from './l7-peers.js';

export interface ProbePodInput {
  name: string;
  namespace: string;
  ip: string;
  serviceAccount: string;
  labels: Record<string, string>;
  sidecar: boolean;
  netns?: string;
  ifname?: string;
  cgroup?: string;
  /** Cluster mode: no netns/ifname/cgroup; the probe finds the pod on its node by IP and UID. */
  uid?: string;
  /** The inbound ports its sidecar intercepts (absent: all); the diff judges the rest as traffic no sidecar handles. */
  inbound?: InboundCapture;
  /** The node it runs on (a name of `NodeInput`): its node's traffic reaches it, as Cilium's allow-localhost lets it. */
  node?: string;
}

/** A node and its IPv4 addresses: Cilium's reserved:host for its own pods, reserved:remote-node for the others. */
export interface NodeInput { name: string; addresses: string[] }

/** Identities of nodes in the probe config, one per node (Cilium: host 1 on the node itself, remote-node 6 elsewhere;
 * the probe's config is one for every node, so each node gets its own identity and the policy entries say which one
 * is a pod's host). Below the CIDR identities (2^24 and up), far above the pods' (1000 + i). */
export const NODE_IDENTITY_BASE = 0xf00000;
/** The rule id of allow-localhost entries (plan rules start at 100). */
export const ALLOW_LOCALHOST_RULE = 1;

export interface ProbeConfig {
  settings: Record<string, number>;
  /** sidecar: the probe attaches the app leg's program only to pods with one, and counts their own outbound
   * connections on the app leg (shadow-probe/README.md "Config file"). */
  pods: { name: string; ip: string; identity: number; sidecar: boolean; netns?: string; ifname?: string; cgroup?: string; uid?: string; defaultDeny?: { ingress: boolean } }[];
  identities: ({ ip: string; identity: number } | { cidr: string; identity: number })[];
  policy: { pod?: string; identity: number; direction: 'ingress' | 'egress'; protocol: string; port: number; endPort?: number; action: 'allow' | 'deny' | 'audit'; ruleId: number }[];
  l7: L7Rule[];
}

export interface CompiledPlan {
  config: ProbeConfig;
  pods: ShadowPod[];
  /** The nodes' identities (their addresses are in config.identities). */
  nodes: { name: string; identity: number }[];
  rules: RuleRef[];
  /** Pods selected by at least one policy (their misses are default denies), with the policies. */
  selectedBy: Record<string, string[]>;
  /** Constructs of the plan the probe cannot run (reported, not silently dropped). */
  unsupported: string[];
}

const WORLD = 2;

/** The probe's CT sizes (settings.ctFlows, shadow-probe/src/shadow.h): powers of two, 256 bytes per flow. */
export const CT_FLOWS = { min: 8192, default: 65_536, max: 1_048_576 } as const;

/**
 * The probe container's memory (MiB) for its config's table sizes. BPF maps are charged to the loader's memory
 * cgroup and the two big tables are allocated whole at load: 256 bytes per CT flow, 192 per in-flight slot
 * (16 and 12 MiB at the defaults, which the base figures already hold). A bigger table raises both by its growth.
 * The per-CPU edge aggregates (2.6 MiB per CPU) are not in it: a node's CPU count is not known here. On a node
 * whose CPUs outgrow the limit the probe refuses to start and names the limit it needs (shadow-probe/src/memory.h).
 */
export function probeMemoryMiB(settings: Record<string, unknown> | undefined, limitMiB?: number): { request: number; limit: number } {
  const num = (k: string, d: number) => (typeof settings?.[k] === 'number' ? (settings[k] as number) : d);
  const extra = Math.max(0, Math.ceil((num('ctFlows', CT_FLOWS.default) * 256 - 16 * 2 ** 20) / 2 ** 20))
    + Math.max(0, Math.ceil((num('inflightSlots', 65_536) * 192 - 12 * 2 ** 20) / 2 ** 20));
  // an operator's limit (--probe-memory) wins; the request never exceeds it (the API server refuses that)
  const limit = limitMiB ?? 512 + extra;
  return { request: Math.min(128 + extra, limit), limit };
}

/** Why n cannot be the probe's settings.ctFlows, or undefined when it can. */
export function ctFlowsProblem(n: number): string | undefined {
  const pow2 = Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
  return pow2 && n >= CT_FLOWS.min && n <= CT_FLOWS.max ? undefined
    : `${n} is not a power of two from ${CT_FLOWS.min} to ${CT_FLOWS.max} (the default is ${CT_FLOWS.default}: 16 MiB)`;
}

/** `((GET)|(HEAD))`, `GET|HEAD`, `GET` -> methods; null when the regex is anything else. */
export function methodsOf(re: string | undefined): string[] | null {
  if (re === undefined || re === '' || re === '.*') return [];
  const stripped = re.replace(/[()]/g, '');
  return /^[A-Z]+(\|[A-Z]+)*$/.test(stripped) ? stripped.split('|') : null;
}

/** A Cilium path regex as the probe's literal matches where possible. */
export function pathMatch(re: string | undefined): Pick<L7Rule, 'pathExact' | 'pathPrefix' | 'pathRegex'> {
  if (re === undefined || re === '' || re === '.*' || re === '/.*') return re === '/.*' ? { pathPrefix: '/' } : {};
  const lit = (s: string) => !/[\\^$.|?*+()[\]{}]/.test(s);
  const unesc = re.replace(/\\([./-])/g, '$1');
  if (lit(unesc)) return { pathExact: unesc };
  if (unesc.endsWith('.*') && lit(unesc.slice(0, -2))) return { pathPrefix: unesc.slice(0, -2) };
  return { pathRegex: re };
}

/** A policy's rule specs: `spec`, and each of `specs` (named `<policy>[i]` when there are several), as Cilium reads them. */
function specsOf(m: KubeObject): { m: KubeObject; spec: CiliumRuleSpec; id: string }[] {
  const ns = m.metadata.namespace;
  const id = `${m.kind}/${ns ? `${ns}/` : ''}${m.metadata.name}`;
  const o = m as unknown as { spec?: CiliumRuleSpec; specs?: CiliumRuleSpec[] };
  const list = [...(o.spec ? [o.spec] : []), ...(Array.isArray(o.specs) ? o.specs : [])];
  return list.map((spec, i) => ({ m, spec, id: list.length > 1 ? `${id}[${i}]` : id }));
}

export function compilePlan(manifests: KubeObject[], podsIn: ProbePodInput[], settings: Record<string, number> = {}, nodesIn: NodeInput[] = []): CompiledPlan {
  const podsSorted = [...podsIn].sort((a, b) => (a.name < b.name ? -1 : 1));
  const pods: ShadowPod[] = podsSorted.map((p, i) => ({ name: p.name, namespace: p.namespace, ip: p.ip, identity: 1000 + i, sidecar: p.sidecar, ...(p.sidecar && p.inbound ? { inbound: p.inbound } : {}) }));
  const labels = new Map(podsSorted.map((p) => [p.name, ciliumLabels(p.namespace, p.serviceAccount, p.labels, p.sidecar)]));
  const cfg: ProbeConfig = {
    settings: { rate: 50000, burst: 5000, intervalMs: 1000, ...settings },
    pods: podsSorted.map((p, i) => ({ name: p.name, ip: p.ip, identity: 1000 + i, sidecar: p.sidecar, ...(p.netns ? { netns: p.netns } : {}), ...(p.ifname ? { ifname: p.ifname } : {}), ...(p.cgroup ? { cgroup: p.cgroup } : {}), ...(p.uid ? { uid: p.uid } : {}) })),
    identities: pods.map((p) => ({ ip: p.ip, identity: p.identity })),
    policy: [],
    l7: [],
  };
  // Nodes: an address that is also a pod's (a hostNetwork pod) stays the pod's; IPv6 addresses are not shadowed.
  const podIps = new Set(pods.map((p) => p.ip));
  const nodes = [...nodesIn].sort((a, b) => (a.name < b.name ? -1 : 1)).map((n, i) => ({ name: n.name, identity: NODE_IDENTITY_BASE + i, addresses: n.addresses.filter((a) => /^\d+\.\d+\.\d+\.\d+$/.test(a) && !podIps.has(a)) }));
  const nodeId = new Map(nodes.map((n) => [n.name, n.identity]));
  for (const n of nodes) for (const a of n.addresses) cfg.identities.push({ ip: a, identity: n.identity });
  const hostOf = new Map(podsSorted.map((p) => [p.name, p.node === undefined ? undefined : nodeId.get(p.node)]));
  const rules: RuleRef[] = [];
  const selectedBy: Record<string, string[]> = {};
  const unsupported: string[] = [];
  let nextRule = 100;
  const grants: PortGrant[] = [];
  /** Pods selected by a policy that keeps default allow. */
  const noDefaultDeny = new Set<string>();

  // a policy the agent refuses has no effect at all: reported, and left out whole (its CIDRs too)
  const cnps = manifests.filter((m) => m.kind === 'CiliumNetworkPolicy' || m.kind === 'CiliumClusterwideNetworkPolicy')
    .filter((m) => {
      const rejected = ciliumRejects(m);
      if (rejected) unsupported.push(`${m.kind}/${m.metadata.namespace ? `${m.metadata.namespace}/` : ''}${m.metadata.name}: Cilium rejects this policy (${rejected}); it has no effect and is not shadowed`);
      return !rejected;
    })
    .sort((a, b) => `${a.kind}/${a.metadata.namespace ?? ''}/${a.metadata.name}`.localeCompare(`${b.kind}/${b.metadata.namespace ?? ''}/${b.metadata.name}`));
  // every prefix of the plan first: a rule's CIDR peers are the prefixes inside its selector (see CidrIdentities)
  const cidrs = new CidrIdentities(WORLD);
  for (const { spec } of cnps.flatMap(specsOf)) {
    for (const r of [...(spec.ingress ?? []), ...(spec.ingressDeny ?? [])]) {
      for (const c of r.fromCIDR ?? []) cidrs.add(c);
      for (const x of r.fromCIDRSet ?? []) for (const c of [x.cidr, ...(x.except ?? [])]) cidrs.add(c);
    }
  }
  cfg.identities.push(...cidrs.entries());
  for (const { m, spec, id } of cnps.flatMap(specsOf)) {
    const ns = m.metadata.namespace;
    const source = (m.metadata.annotations ?? {})['migrate.io/source'];
    const selects = compileSelector(spec.endpointSelector ?? {}, ns);
    // a CNP selects pods of its own namespace only, whatever its selector names (a CCNP has no namespace)
    const targets = podsSorted.filter((p) => (!ns || p.namespace === ns) && selects(labels.get(p.name)!));
    if (spec.egress?.length) unsupported.push(`${id}: egress rules are not shadowed (the translation emits ingress policy)`);
    const hasIngress = (spec.ingress?.length ?? 0) + (spec.ingressDeny?.length ?? 0) > 0;
    if (!hasIngress) continue;
    // A policy with enableDefaultDeny.ingress false (the translation's DENY policies) does not switch its pods to
    // default deny (see defaultDeny below).
    if (spec.enableDefaultDeny?.ingress === false) for (const t of targets) noDefaultDeny.add(t.name);
    else for (const t of targets) (selectedBy[t.name] ??= []).push(id);
    const emit = (list: IngressRule[] | undefined, field: 'ingress' | 'ingressDeny', action: 'allow' | 'deny') => {
      (list ?? []).forEach((r, ri) => {
        const ruleId = nextRule++;
        rules.push({ id: ruleId, policy: id, rule: `${field}[${ri}]`, ...(source ? { source } : {}) });
        // Peer identities of this rule (0 = any peer). `{}` (no peer field, no ports) selects and allows nothing.
        const peers = new Set<number>();
        const hasPeer = r.fromEndpoints !== undefined || r.fromCIDR !== undefined || r.fromCIDRSet !== undefined || r.fromEntities !== undefined;
        if (!hasPeer && !r.toPorts?.length) return;
        if (!hasPeer) peers.add(0);
        for (const sel of r.fromEndpoints ?? []) {
          const pred = compileSelector(sel, ns);
          for (const p of podsSorted) if (pred(labels.get(p.name)!)) peers.add(pods.find((x) => x.name === p.name)!.identity);
        }
        for (const e of r.fromEntities ?? []) {
          if (e === 'all') peers.add(0);
          // CIDR identities are world's too (Cilium labels them reserved:world)
          else if (e === 'world') for (const i of [WORLD, ...cidrs.all()]) peers.add(i);
          else if (e === 'cluster') for (const i of [...pods.map((p) => p.identity), ...nodes.map((n) => n.identity)]) peers.add(i);
          // a pod's own node is its host, every other node a remote node: resolved per target below
          else if (e === 'host') peers.add(HOST_PEER);
          else if (e === 'remote-node') peers.add(REMOTE_NODE_PEER);
          else unsupported.push(`${id} ${field}[${ri}]: entity ${e} has no peer in the shadowed pods`);
        }
        for (const x of [...(r.fromCIDR ?? []).map((cidr) => ({ cidr, except: [] as string[] })), ...(r.fromCIDRSet ?? [])]) {
          const inside = cidrs.inside(x.cidr, x.except ?? []);
          if (inside === null) { unsupported.push(`${id} ${field}[${ri}]: CIDR ${x.cidr} is not shadowed (not an IPv4 prefix; the probe is IPv4 only)`); continue; }
          for (const i of inside) peers.add(i);
        }
        // no toPorts: every port (an L3 rule), unless it lists ICMP types (ICMP only, which the probe does not
        // judge). A toPorts entry without ports gives Cilium no port to put a filter on, so it allows (or denies)
        // nothing, whatever its L7 rules say.
        if (!r.toPorts?.length && r.icmps?.length) unsupported.push(`${id} ${field}[${ri}]: ICMP rules are not shadowed (ICMP is not judged)`);
        const portRules = r.toPorts?.length ? r.toPorts : r.icmps?.length ? [] : [{ ports: [{ port: '0', protocol: 'ANY' as const }] }];
        const peerList = [...peers].sort((a, b) => a - b);
        portRules.forEach((pr, pi) => {
          const ports = (pr.ports ?? []).filter((po) => {
            // a named port needs the pod's container ports, which the plan does not have: left out (narrower), never
            // read as port 0 (every port)
            if (!/^\d+$/.test(String(po.port ?? '0'))) {
              unsupported.push(`${id} ${field}[${ri}].toPorts[${pi}]: named port ${po.port} is not resolved; that port is not shadowed`);
              return false;
            }
            // the probe reads no SCTP ports: an SCTP entry left out is narrower for SCTP; read as TCP it was wider
            if (l4Proto(po) === 'SCTP') {
              unsupported.push(`${id} ${field}[${ri}].toPorts[${pi}]: SCTP port ${po.port} is not shadowed (the probe parses TCP and UDP ports)`);
              return false;
            }
            return true;
          });
          const http: PortRuleHTTP[] = pr.rules?.http ?? [];
          if (action === 'deny' && http.length) unsupported.push(`${id} ${field}[${ri}]: L7 rules in a deny rule (Cilium rejects them)`);
          const l7: Omit<L7Rule, 'pod' | 'identity'>[] = [];
          if (action === 'allow') {
            http.forEach((h, hi) => {
              const hid = nextRule++;
              const when = conditionsOf(h);
              rules.push({ id: hid, policy: id, rule: `${field}[${ri}].toPorts[${pi}].rules.http[${hi}]`, ...(source ? { source } : {}), ...(when ? { when } : {}) });
              const methods = methodsOf(h.method);
              if (methods === null) unsupported.push(`${id}: method regex ${h.method} is not a list of methods; shadowed as any method`);
              if (when) unsupported.push(`${id} ${field}[${ri}].toPorts[${pi}].rules.http[${hi}]: ${conditionsNote(when)}`);
              const path = pathMatch(h.path);
              for (const po of ports) for (const meth of methods && methods.length ? methods : [undefined]) {
                l7.push({ port: Number(po.port) || 0, ...(meth ? { method: meth } : {}), ...path, ruleId: hid });
              }
            });
          }
          for (const t of targets) {
            const tPeers = peersFor(peerList, hostOf.get(t.name), nodes);
            for (const pe of tPeers) for (const po of ports) {
              // an omitted protocol is any (the probe takes a port of ANY as TCP and UDP)
              cfg.policy.push({ pod: t.name, identity: pe, direction: 'ingress', protocol: l4Proto(po), port: Number(po.port) || 0, ...(po.endPort ? { endPort: po.endPort } : {}), action, ruleId });
            }
            if (action === 'allow') for (const po of ports) {
              const port = Number(po.port) || 0;
              grants.push({ pod: t.name, port, ...(po.endPort ? { endPort: po.endPort } : {}), protocol: l4Proto(po), peers: tPeers, ruleId, http: http.length ? l7.filter((h) => h.port === port) : null });
            }
          }
        });
      });
    };
    emit(spec.ingressDeny, 'ingressDeny', 'deny');
    emit(spec.ingress, 'ingress', 'allow');
  }
  // Default deny as Cilium settles it, said to the probe per pod (it would otherwise switch on any entry): on for a
  // pod a default-deny policy selects, even with no entry (`ingress: [{}]`); off for one only policies that keep
  // default allow select, whose deny entries still deny.
  for (const p of cfg.pods) {
    if (selectedBy[p.name]) p.defaultDeny = { ingress: true };
    else if (noDefaultDeny.has(p.name)) p.defaultDeny = { ingress: false };
  }
  // Cilium's allow-localhost (default): a node's own traffic reaches its pods whatever their policy (kubelet probes).
  // Deny entries still win, as in Cilium's policy map.
  let localhost = false;
  for (const p of podsSorted) {
    const host = hostOf.get(p.name);
    if (host === undefined || !selectedBy[p.name]) continue;
    cfg.policy.push({ pod: p.name, identity: host, direction: 'ingress', protocol: 'ANY', port: 0, action: 'allow', ruleId: ALLOW_LOCALHOST_RULE });
    localhost = true;
  }
  if (localhost) rules.push({ id: ALLOW_LOCALHOST_RULE, policy: 'Cilium allow-localhost', rule: "the node's own traffic reaches its pods" });
  cfg.l7 = l7RulesOf(grants, new Set(cfg.pods.filter((p) => p.defaultDeny?.ingress === false).map((p) => p.name)));
  return { config: cfg, pods, rules, selectedBy, unsupported: [...new Set(unsupported)].sort(), nodes: nodes.map((n) => ({ name: n.name, identity: n.identity })) };
}

/** An HTTP rule's host and header conditions (the join checks them; the probe matches method and path alone). */
function conditionsOf(h: PortRuleHTTP): HttpConditions | undefined {
  if (h.host === undefined && !h.headers?.length && !h.headerMatches?.length) return undefined;
  return { ...(h.host !== undefined ? { host: h.host } : {}), ...(h.headers?.length ? { headers: h.headers } : {}), ...(h.headerMatches?.length ? { headerMatches: h.headerMatches.map((m) => ({ name: m.name, ...(m.value !== undefined ? { value: m.value } : {}) })) } : {}) };
}

/** How the shadow judges a rule's conditions, for the report's "not shadowed" list. */
function conditionsNote(w: HttpConditions): string {
  const what = [w.host !== undefined ? 'host' : '', w.headers?.length || w.headerMatches?.length ? 'header' : ''].filter(Boolean).join(' and ');
  const unseen = compileConditions(w).unseen;
  return `its ${what} conditions are checked on the sidecars' access log, not by the probe (traffic no sidecar handles is judged without them)` +
    (unseen.length ? `; the log does not carry ${unseen.join(', ')}: a request only this rule allows counts as allowed, and a would-allow it causes as expected` : '');
}

/** Markers in a rule's peer set for the entities whose identity depends on the target's node. */
const HOST_PEER = -1;
const REMOTE_NODE_PEER = -2;

/** A rule's peers for one target: `host` is its node, `remote-node` every other (a target on no known node has neither). */
function peersFor(peers: number[], host: number | undefined, nodes: { identity: number }[]): number[] {
  if (!peers.includes(HOST_PEER) && !peers.includes(REMOTE_NODE_PEER)) return peers;
  const out = new Set(peers.filter((p) => p >= 0));
  if (peers.includes(HOST_PEER) && host !== undefined) out.add(host);
  if (peers.includes(REMOTE_NODE_PEER)) for (const n of nodes) if (n.identity !== host) out.add(n.identity);
  return [...out].sort((a, b) => a - b);
}
