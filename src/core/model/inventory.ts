// The InventoryResult: what `migrate inventory --json` prints. Its JSON Schema is schema/inventory-result.schema.json;
// treat changes as breaking (DESIGN.md convention 2).
import type { Finding } from './finding.js';
import type { Readiness, ReadinessReason } from '../kernel/readiness.js';
import type { ReasonCode, ReasonDetail } from '../inventory/reasons.js';
import type { Resources } from '../inventory/pods.js';
import type { ServicePort } from '../inventory/services.js';

export type WorkloadClass = 'l4-only' | 'needs-waypoint' | 'blocked' | 'no-sidecar';
export const WORKLOAD_CLASSES: readonly WorkloadClass[] = ['l4-only', 'needs-waypoint', 'blocked', 'no-sidecar'];

export interface WorkloadEntry {
  namespace: string;
  kind: string;
  name: string;
  serviceAccount: string;
  pods: number;
  /** Pods running with a sidecar (an istio-proxy container or native sidecar). */
  injectedPods: number;
  /** Has a sidecar now, or (with no pods) would get one. */
  injected: boolean;
  injectionExpected: boolean;
  class: WorkloadClass;
  reasons: ReasonCode[];
  reasonDetails: ReasonDetail[];
  /** `<kind>/<ns>/<name>` of the Istio resources that apply. */
  policies: string[];
  services: string[];
  nodes: string[];
  sidecarResources: Resources;
}

export interface NodeEntry {
  name: string;
  kernelVersion: string;
  osImage: string;
  containerRuntime: string;
  architecture: string;
  operatingSystem: string;
  readiness: Readiness;
  reasons: string[];
  reasonDetails: ReadinessReason[];
  injectedPods: number;
}

export interface NamespaceEntry {
  name: string;
  injection: string;
  workloads: number;
  pods: number;
  injectedPods: number;
  sidecar: Resources;
  /** Measured sidecar usage from metrics.k8s.io, when it answered. */
  sidecarUsage?: { cpuMillicores: number; memoryBytes: number; pods: number };
}

export interface IstioResourceEntry {
  ref: string;
  kind: string;
  apiVersion: string;
  scope: 'workload' | 'namespace' | 'mesh' | 'targetRefs' | 'hosts' | 'gateways' | 'none';
  appliesTo: number;
  features: ReasonCode[];
}

export interface ServiceEntrySummary {
  namespace: string;
  name: string;
  ports: ServicePort[];
  workloads: string[];
}

export interface SidecarTax {
  /** Per-node agent cost the projection assumes (--agent-cpu / --agent-memory). */
  agentPerNode: { cpuRequestMillicores: number; memoryRequestBytes: number };
  agentNodes: number;
  sidecars: Resources;
  agents: { cpuRequestMillicores: number; memoryRequestBytes: number };
  projectedSaving: { cpuRequestMillicores: number; memoryRequestBytes: number };
  measured?: { cpuMillicores: number; memoryBytes: number; pods: number };
}

export interface InventorySummary {
  source: string;
  namespaces: number;
  workloads: number;
  pods: number;
  injectedPods: number;
  sidecarCpuRequestMillicores: number;
  sidecarMemoryRequestBytes: number;
  sidecarCpuLimitMillicores: number;
  sidecarMemoryLimitBytes: number;
  istioResources: Record<string, number>;
  nodesByReadiness: Record<Readiness, number>;
  workloadsByClass: Record<WorkloadClass, number>;
  cni: string;
}

export interface InventoryResult {
  apiVersion: 'migrate.dev/v1alpha1';
  kind: 'InventoryResult';
  summary: InventorySummary;
  namespaces: NamespaceEntry[];
  workloads: WorkloadEntry[];
  nodes: NodeEntry[];
  services: ServiceEntrySummary[];
  istioResources: IstioResourceEntry[];
  sidecarTax: SidecarTax;
  findings: Finding[];
}
