// The slice of CiliumNetworkPolicy / CiliumClusterwideNetworkPolicy (cilium.io/v2) the translator emits and the
// reference evaluator reads. Field names follow the CRD exactly so emitted objects validate against its schema.

export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}

export interface EndpointSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export interface CidrRule {
  cidr: string;
  except?: string[];
}

export interface PortProtocol {
  port: string;
  endPort?: number;
  protocol?: 'TCP' | 'UDP' | 'SCTP' | 'ANY';
}

export interface PortRuleHTTP {
  method?: string;
  path?: string;
  host?: string;
  headers?: string[];
  headerMatches?: { name: string; value?: string }[];
}

export interface PortRule {
  ports?: PortProtocol[];
  rules?: { http?: PortRuleHTTP[] };
}

export interface IngressRule {
  fromEndpoints?: EndpointSelector[];
  fromCIDR?: string[];
  fromCIDRSet?: CidrRule[];
  fromEntities?: string[];
  toPorts?: PortRule[];
  /** ICMP types (never with toPorts): a rule with only these allows ICMP only, not every port. */
  icmps?: { fields: { type: number | string; family?: string }[] }[];
  authentication?: { mode: 'disabled' | 'required' | 'test-always-fail' };
}

export type IngressDenyRule = Omit<IngressRule, 'authentication'>;

export interface EgressRule {
  toEndpoints?: EndpointSelector[];
  toCIDR?: string[];
  toCIDRSet?: CidrRule[];
  toEntities?: string[];
  toFQDNs?: { matchName?: string; matchPattern?: string }[];
  toPorts?: PortRule[];
}

export interface CiliumRuleSpec {
  description?: string;
  endpointSelector?: EndpointSelector;
  ingress?: IngressRule[];
  ingressDeny?: IngressDenyRule[];
  egress?: EgressRule[];
  enableDefaultDeny?: { ingress?: boolean; egress?: boolean };
}

export const CILIUM_API_VERSION = 'cilium.io/v2';
export const LABEL_NAMESPACE = 'k8s:io.kubernetes.pod.namespace';
export const LABEL_SERVICE_ACCOUNT = 'k8s:io.cilium.k8s.policy.serviceaccount';
/** Injected into every pod that has an Istio sidecar: the way to say "mesh members only" in a label selector. */
export const LABEL_ISTIO_TLS_MODE = 'k8s:security.istio.io/tlsMode';
