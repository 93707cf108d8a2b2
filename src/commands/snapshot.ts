import { Flags } from '@oclif/core';
import { MigrateCommand, sourceFlags } from '../cli/base.js';
import { openReader } from '../adapters/reader.js';
import { SnapshotDirWriter } from '../adapters/snapshot/writer.js';
import { stderrProgress } from '../adapters/progress.js';
import { systemClock } from '../ports/clock.js';
import { runSnapshot, type SnapshotResult } from '../workflows/snapshot.js';

const { snapshot: _snapshot, ...liveFlags } = sourceFlags;

export default class Snapshot extends MigrateCommand<typeof Snapshot> {
  static override summary = 'Write a snapshot of a live cluster for offline work';
  static override description = 'Copies namespaces, nodes, workloads, pods, services, every Istio resource and pod metrics into DIR, one List file per type (Secrets and ConfigMaps are never read). Any command takes it with --snapshot DIR. The directory appears whole or not at all.';
  static override examples = ['<%= config.bin %> snapshot --context prod --out snapshots/prod', '<%= config.bin %> snapshot -n shop --out shop-snapshot'];

  static override flags = {
    ...liveFlags,
    out: Flags.string({ description: 'directory to write (created; replaced only if an earlier migrate snapshot wrote it)', required: true }),
  };

  async run(): Promise<SnapshotResult> {
    const f = this.flags;
    const reader = openReader({ kubeconfig: f.kubeconfig, context: f.context });
    const sink = new SnapshotDirWriter(f.out);
    const r = await runSnapshot({ reader, sink, namespaces: f.namespace ?? [], rootNamespace: f['root-namespace'], clock: systemClock, progress: stderrProgress(this.progressEnabled(true)) }, f.out);
    if (!this.jsonEnabled()) {
      const total = Object.values(r.counts).reduce((a, b) => a + b, 0);
      this.log(`wrote ${total} objects from ${r.source} to ${r.out}`);
      for (const n of r.notes) this.log(`  note: ${n}`);
    }
    return r;
  }
}
