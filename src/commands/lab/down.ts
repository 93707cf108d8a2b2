import { MigrateCommand } from '../../cli/base.js';
import type { LabDownResult } from '../../core/model/lab.js';
import { ScriptLab } from '../../adapters/lab/script.js';
import { runLabDown } from '../../workflows/lab.js';

export default class LabDown extends MigrateCommand<typeof LabDown> {
  static override summary = 'Remove the lab: every netns, veth, bridge, cgroup, process and iptables rule it made (idempotent)';
  static override examples = ['<%= config.bin %> lab down'];

  async run(): Promise<LabDownResult> {
    const result = await runLabDown(new ScriptLab());
    if (!this.jsonEnabled()) this.log('lab is down');
    return result;
  }
}
