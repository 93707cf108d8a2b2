// The sidecar tax: what the sidecars request, against what a per-node agent would cost on the same nodes.
import type { Resources } from './pods.js';
import type { SidecarTax } from '../model/inventory.js';

export interface AgentCost {
  cpuRequestMillicores: number;
  memoryRequestBytes: number;
}

/**
 * Projected saving = sidecar requests - agent requests on every node that runs an injected pod in scope
 * (a DaemonSet agent lands on those nodes; nodes without injected pods would run it for other reasons).
 */
export function sidecarTax(sidecars: Resources, agentPerNode: AgentCost, agentNodes: number, measured?: SidecarTax['measured']): SidecarTax {
  const agents = { cpuRequestMillicores: agentPerNode.cpuRequestMillicores * agentNodes, memoryRequestBytes: agentPerNode.memoryRequestBytes * agentNodes };
  return {
    agentPerNode: { ...agentPerNode },
    agentNodes,
    sidecars,
    agents,
    projectedSaving: {
      cpuRequestMillicores: sidecars.cpuRequestMillicores - agents.cpuRequestMillicores,
      memoryRequestBytes: sidecars.memoryRequestBytes - agents.memoryRequestBytes,
    },
    ...(measured ? { measured } : {}),
  };
}
