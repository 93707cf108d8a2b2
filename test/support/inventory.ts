// Runs the inventory workflow on a snapshot the way the command does (real snapshot reader, bundled matrix).
import { SnapshotReader } from '../../src/adapters/snapshot/reader.js';
import { loadKernelMatrix } from '../../src/adapters/fs/kernel-matrix.js';
import { runInventory } from '../../src/workflows/inventory.js';
import type { InventoryResult } from '../../src/core/model/inventory.js';

export async function inventoryOfSnapshot(path: string, namespaces: string[] = []): Promise<InventoryResult> {
  return runInventory({
    reader: new SnapshotReader(path),
    namespaces,
    rootNamespace: 'istio-system',
    kernelMatrix: loadKernelMatrix(),
    agentPerNode: { cpuRequestMillicores: 200, memoryRequestBytes: 512 * 1024 * 1024 },
  });
}
