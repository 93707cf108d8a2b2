import { Flags } from '@oclif/core';
import { MigrateCommand } from '../../cli/base.js';
import type { LabLoadResult } from '../../core/model/lab.js';
import { ScriptLab } from '../../adapters/lab/script.js';
import { runLabLoad } from '../../workflows/lab.js';
import { renderLabLoad } from '../../render/lab.js';

export default class LabLoad extends MigrateCommand<typeof LabLoad> {
  static override summary = 'Send HTTP load from the lab client pod to a pod; print latency p50/p90/p99 and requests/s';
  static override description = 'A fixed rate (--rate R) is sent open-loop and latency counts from each request\'s scheduled time; --rate 0 runs closed-loop at the maximum rate. --bypass targets the same app on its port excluded from the sidecar redirect.';
  static override examples = [
    '<%= config.bin %> lab load --target productpage --rate 500 --duration 10',
    '<%= config.bin %> lab load --target reviews --rate 0 --tool wrk --connections 16',
    '<%= config.bin %> lab load --target reviews --rate 500 --bypass',
    '<%= config.bin %> lab load --from productpage --target reviews --rate 200',
  ];

  static override flags = {
    target: Flags.string({ description: 'pod to send to (default: the first pod with a sidecar)' }),
    from: Flags.string({ description: 'pod to send from (default: client: no sidecar, plaintext, no principal; a sidecar pod sends through its outbound sidecar, mTLS to sidecar pods)' }),
    rate: Flags.integer({ description: 'requests per second; 0 = maximum', default: 100, min: 0 }),
    duration: Flags.integer({ description: 'seconds', default: 5, min: 1, max: 3600 }),
    connections: Flags.integer({ char: 'c', description: 'keep-alive connections', default: 8, min: 1, max: 1000 }),
    path: Flags.string({ description: 'request path', default: '/' }),
    bypass: Flags.boolean({ description: 'send to the app port excluded from the sidecar (no sidecar on the path)', default: false }),
    tool: Flags.string({ description: 'load generator', options: ['loadgen', 'wrk'], default: 'loadgen' }),
  };

  async run(): Promise<LabLoadResult> {
    const f = this.flags;
    const result = await runLabLoad(new ScriptLab(), {
      target: f.target, from: f.from, rate: f.rate, durationSeconds: f.duration, connections: f.connections, path: f.path,
      bypass: f.bypass, tool: f.tool as 'loadgen' | 'wrk',
    });
    if (!this.jsonEnabled()) this.log(renderLabLoad(result));
    return result;
  }
}
