import { Flags } from '@oclif/core';
import { MigrateCommand, sourceFlags } from '../cli/base.js';
import type { InventoryResult } from '../core/model/inventory.js';
import { cpuMillicores, quantityValue, isValidQuantity } from '../core/quantity.js';
import { userError } from '../core/errors.js';
import { runInventory } from '../workflows/inventory.js';
import { openReader } from '../adapters/reader.js';
import { loadKernelMatrix } from '../adapters/fs/kernel-matrix.js';
import { writeReport } from '../adapters/fs/report.js';
import { stderrProgress } from '../adapters/progress.js';
import { renderInventoryMarkdown, renderInventoryText } from '../render/inventory.js';

export default class Inventory extends MigrateCommand<typeof Inventory> {
  static override summary = 'Inventory sidecars, mesh policy and node kernels; classify every workload';
  static override description = 'Reads a live cluster (kubeconfig) or a snapshot and reports injected workloads, the sidecar tax, every Istio resource and what applies where, node eBPF readiness, and a class per workload: l4-only, needs-waypoint, blocked or no-sidecar.';
  static override examples = [
    '<%= config.bin %> inventory --snapshot fixtures/online-shop/snapshot',
    '<%= config.bin %> inventory --context prod -n shop -n payments --output inventory.md',
    '<%= config.bin %> inventory --json > inventory.json',
  ];

  static override flags = {
    ...sourceFlags,
    output: Flags.string({ char: 'o', description: 'also write the report to FILE (.md for Markdown, .json for the Result)' }),
    'kernel-matrix': Flags.string({ description: 'supported-kernel matrix (YAML); default: the bundled data/kernel-matrix.yaml' }),
    'agent-cpu': Flags.string({ description: 'CPU request of the per-node eBPF agent, for the sidecar-tax projection', default: '200m' }),
    'agent-memory': Flags.string({ description: 'memory request of the per-node eBPF agent', default: '512Mi' }),
  };

  async run(): Promise<InventoryResult> {
    const f = this.flags;
    for (const k of ['agent-cpu', 'agent-memory'] as const) {
      if (!isValidQuantity(f[k])) throw userError('MIGRATE_BAD_FLAG', `--${k} "${f[k]}" is not a Kubernetes quantity`, { object: `--${k}`, next: 'use e.g. 200m or 0.2 for CPU, 512Mi for memory' });
    }
    const reader = openReader({ snapshot: f.snapshot, kubeconfig: f.kubeconfig, context: f.context });
    const result = await runInventory({
      reader,
      namespaces: f.namespace ?? [],
      rootNamespace: f['root-namespace'],
      kernelMatrix: loadKernelMatrix(f['kernel-matrix']),
      agentPerNode: { cpuRequestMillicores: cpuMillicores(f['agent-cpu']), memoryRequestBytes: quantityValue(f['agent-memory']) },
      progress: stderrProgress(this.progressEnabled(reader.live)),
    });
    if (f.output) writeReport(f.output, result, renderInventoryMarkdown);
    if (!this.jsonEnabled()) this.log(renderInventoryText(result));
    return result;
  }
}
