import { MigrateCommand } from '../../cli/base.js';
import type { LabStatusResult } from '../../core/model/lab.js';
import { ScriptLab } from '../../adapters/lab/script.js';
import { runLabStatus } from '../../workflows/lab.js';
import { renderLabStatus } from '../../render/lab.js';

export default class LabStatus extends MigrateCommand<typeof LabStatus> {
  static override summary = "Show the lab's pods: netns, veth, cgroup, app and sidecar health";
  static override examples = ['<%= config.bin %> lab status', '<%= config.bin %> lab status --json'];

  async run(): Promise<LabStatusResult> {
    const result = await runLabStatus(new ScriptLab());
    if (!this.jsonEnabled()) this.log(renderLabStatus(result));
    return result;
  }
}
