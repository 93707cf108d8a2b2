import { MigrateCommand } from '../../cli/base.js';
import type { LabUpResult } from '../../core/model/lab.js';
import { ScriptLab } from '../../adapters/lab/script.js';
import { runLabUp } from '../../workflows/lab.js';
import { renderLabStatus } from '../../render/lab.js';

export default class LabUp extends MigrateCommand<typeof LabUp> {
  static override summary = 'Bring up the lab: a node in network namespaces with sidecar pods (idempotent)';
  static override description = 'Creates a node netns with a bridge, one netns, veth and cgroup v2 per pod, istio-init iptables, an app server and an HAProxy sidecar (uid 1337, Envoy TEXT access log, Istio RBAC answers) per pod, and writes .state/lab/pods.json. Running it again repairs what is missing and changes nothing else. Needs root.';
  static override examples = ['<%= config.bin %> lab up', '<%= config.bin %> lab up --json | jq .lab.pods[].sidecar.accessLog'];

  async run(): Promise<LabUpResult> {
    const result = await runLabUp(new ScriptLab());
    if (!this.jsonEnabled()) this.log(renderLabStatus(result));
    return result;
  }
}
