// What a sidecar intercepts inbound (istio-iptables): TCP only, on every port unless the pod's annotations say
// otherwise. Traffic it does not intercept is policed by no Istio policy. Read by the shadow (which judges that
// traffic) and the translation (which reports where a CiliumNetworkPolicy starts to police it).

/** Inbound ports a sidecar intercepts: include '*' (every port) or a list, minus exclude. */
export interface InboundCapture { include: number[] | '*'; exclude: number[] }

const INCLUDE = 'traffic.sidecar.istio.io/includeInboundPorts';
const EXCLUDE = 'traffic.sidecar.istio.io/excludeInboundPorts';

/** The inbound ports a pod's sidecar intercepts, from Istio's annotations (istio-iptables: include '*' unless the
 * annotation lists ports, '' for none; exclude a list); undefined without either annotation (every port). A port
 * that is no number is an error naming the pod and the annotation: guessing would misjudge that traffic. */
export function inboundCapture(pod: string, annotations: Record<string, string> | undefined): InboundCapture | undefined {
  const inc = annotations?.[INCLUDE];
  const exc = annotations?.[EXCLUDE];
  if (inc === undefined && exc === undefined) return undefined;
  const ports = (name: string, v: string) => v.split(',').map((x) => x.trim()).filter(Boolean).map((x) => {
    const n = Number(x);
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`pod ${pod}: annotation ${name}: "${x}" is not a port (1-65535)`);
    return n;
  });
  return { include: inc === undefined || inc.trim() === '*' ? '*' : ports(INCLUDE, inc), exclude: exc === undefined ? [] : ports(EXCLUDE, exc) };
}

/** Does the sidecar intercept inbound TCP to this port? */
export function intercepts(c: InboundCapture | undefined, port: number): boolean {
  return !c || (!c.exclude.includes(port) && (c.include === '*' || c.include.includes(port)));
}
