// Which AuthorizationPolicies cannot become CNP at all and why: each reason is a gap with a code and a target
// (cilium-policy.md, "What cannot be expressed").
import type { AuthorizationPolicySpec, Rule } from '../model/istio.js';
import { isPathTemplate, stringForm } from '../istio/strings.js';
import { GAP, TARGET } from './gaps.js';

export interface WaypointReason { code: string; reason: string; target: string }

function hasHttp(r: Rule): boolean {
  const op = (r.to ?? []).some((t) => { const o = t.operation ?? {}; return !!(o.methods || o.notMethods || o.paths || o.notPaths || o.hosts || o.notHosts); });
  const when = (r.when ?? []).some((w) => w.key.startsWith('request.'));
  const src = (r.from ?? []).some((f) => f.source?.requestPrincipals || f.source?.notRequestPrincipals);
  return op || when || src;
}

/** Reasons the policy must be enforced by a waypoint instead of CNP; empty when CNP can carry it. */
export function waypointReasons(spec: AuthorizationPolicySpec): WaypointReason[] {
  const out: WaypointReason[] = [];
  const action = spec.action ?? 'ALLOW';
  const rules = spec.rules ?? [];
  const add = (code: string, reason: string, target: string = TARGET.waypointAuthz) => { if (!out.some((o) => o.code === code)) out.push({ code, reason, target }); };
  if (action === 'CUSTOM') add(GAP.CUSTOM, `CUSTOM (ext-authz provider ${spec.provider?.name ?? '?'}) is decided outside the mesh; Cilium has no ext-authz`, TARGET.waypointCustom);
  for (const r of rules) {
    if (!r) continue;
    if (action === 'DENY' && hasHttp(r)) add(GAP.DENY_L7, 'DENY with methods/paths/hosts/headers: Cilium deny rules are L3/L4 only');
    for (const f of r.from ?? []) {
      const s = f.source ?? {};
      if (s.requestPrincipals || s.notRequestPrincipals) add(GAP.JWT, 'requestPrincipals need a validated JWT (RequestAuthentication)');
      if (s.remoteIpBlocks || s.notRemoteIpBlocks) add(GAP.REMOTE_IP, 'remoteIpBlocks use X-Forwarded-For / proxy protocol, which Cilium does not see', TARGET.gateway);
    }
    for (const t of r.to ?? []) {
      const o = t.operation ?? {};
      if (o.notMethods?.length || o.notPaths?.length || o.notHosts?.length) add(GAP.NEGATIVE_L7, 'notMethods/notPaths/notHosts: RE2 has no negative lookahead');
      if (o.paths?.some(isPathTemplate)) add(GAP.PATH_TEMPLATE, 'path templates {*} / {**}');
    }
    for (const w of r.when ?? []) {
      if (w.key.startsWith('request.auth.')) add(GAP.JWT, `when ${w.key} needs a validated JWT`);
      if (w.key === 'remote.ip') add(GAP.REMOTE_IP, 'when remote.ip uses X-Forwarded-For', TARGET.gateway);
      if (/^request\.headers\[/.test(w.key) && (w.notValues?.length || !w.values || w.values.some((v) => stringForm(v).kind !== 'exact'))) {
        add(GAP.HEADER_MATCH, `when ${w.key}: Cilium headerMatches are exact values only`);
      }
    }
  }
  return out;
}
