// `migrate lab up|status|load|down`: checks what we may do, then drives the lab through a LabRunner.
import { userError } from '../core/errors.js';
import type { LabDownResult, LabLoadRequest, LabLoadResult, LabStatusResult, LabUpResult } from '../core/model/lab.js';
import type { LabRunner } from '../ports/lab.js';

function requireRoot(lab: LabRunner, verb: string): void {
  if (!lab.isRoot()) {
    throw userError('MIGRATE_LAB_NEEDS_ROOT', `lab ${verb} needs root: it creates network namespaces, iptables rules and cgroups`, {
      object: `lab ${verb}`, next: `run it as root, e.g. sudo migrate lab ${verb}`,
    });
  }
}

export async function runLabUp(lab: LabRunner): Promise<LabUpResult> {
  requireRoot(lab, 'up');
  const file = await lab.up();
  const status = await lab.status();
  if (!status.up) {
    const bad = status.pods.filter((p) => !p.netns || !p.veth || !p.cgroup || !p.app || p.sidecar === false).map((p) => p.name);
    throw userError('MIGRATE_LAB_DEGRADED', `the lab came up incomplete: ${bad.join(', ') || 'no pods'}`, {
      object: status.podsFile, next: "run 'migrate lab status' for details, 'migrate lab down' to clean up",
    });
  }
  return { ...status, lab: file };
}

export async function runLabStatus(lab: LabRunner): Promise<LabStatusResult> {
  requireRoot(lab, 'status');
  return lab.status();
}

export async function runLabLoad(lab: LabRunner, req: LabLoadRequest): Promise<LabLoadResult> {
  requireRoot(lab, 'load');
  if (!(req.rate >= 0) || !(req.durationSeconds > 0) || !(req.durationSeconds <= 3600) || !(req.connections >= 1)) {
    throw userError('MIGRATE_BAD_FLAG', 'load needs --rate >= 0, 0 < --duration <= 3600 and --connections >= 1', {
      object: 'lab load', next: 'e.g. migrate lab load --rate 200 --duration 10',
    });
  }
  if (req.tool === 'wrk' && req.rate > 0) {
    throw userError('MIGRATE_BAD_FLAG', 'wrk only runs closed-loop (--rate 0)', { object: '--tool wrk', next: 'use --tool loadgen for a fixed rate' });
  }
  const status = await lab.status();
  if (!status.up) {
    throw userError('MIGRATE_LAB_DOWN', 'the lab is not up', { object: status.podsFile, next: "run 'migrate lab up' first" });
  }
  for (const pod of [req.target, req.from]) {
    if (pod && !status.pods.some((p) => p.name === pod)) {
      throw userError('MIGRATE_LAB_NO_POD', `the lab has no pod ${pod}`, {
        object: pod, next: `choose one of: ${status.pods.map((p) => p.name).join(', ')}`,
      });
    }
  }
  return lab.load(req);
}

export async function runLabDown(lab: LabRunner): Promise<LabDownResult> {
  requireRoot(lab, 'down');
  return lab.down();
}
