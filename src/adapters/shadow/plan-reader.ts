// Reads a translated plan directory (plans/<name>/ from `migrate translate --out`): every manifest YAML and the
// gaps of report.json.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import type { KubeObject } from '../../core/model/k8s.js';
import { userError } from '../../core/errors.js';
import type { KnownGap } from '../../core/shadow/types.js';
import type { ShadowPlanInput } from '../../workflows/shadow.js';
import type { LabFile } from '../../core/model/lab.js';

function walk(dir: string): string[] {
  return readdirSync(dir).sort().flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? walk(p) : /\.ya?ml$/.test(f) ? [p] : [];
  });
}

export function readPlanDir(dir: string): ShadowPlanInput {
  if (!existsSync(dir)) throw userError('MIGRATE_SHADOW_NO_PLAN', `plan directory ${dir} does not exist`, { object: dir, next: 'write one with `migrate translate --out plans/<name>`' });
  const manifests: KubeObject[] = [];
  for (const f of walk(dir)) for (const d of yaml.loadAll(readFileSync(f, 'utf8'))) if (d && typeof d === 'object' && 'kind' in d) manifests.push(d as KubeObject);
  let gaps: KnownGap[] = [];
  const rep = join(dir, 'report.json');
  if (existsSync(rep)) {
    const r = JSON.parse(readFileSync(rep, 'utf8')) as { gaps?: { code: string; object: string; reason: string }[] };
    gaps = (r.gaps ?? []).map((g) => ({ code: g.code, object: g.object.replace(/ /g, '/'), reason: g.reason }));
  }
  return { source: dir, manifests, gaps };
}

export function readLabPods(podsJson: string): LabFile {
  if (!existsSync(podsJson)) throw userError('MIGRATE_LAB_NOT_UP', `no lab state at ${podsJson}`, { object: podsJson, next: 'start the lab with `migrate lab up` (root), or use --replay fixtures/shadow/<scenario>' });
  return JSON.parse(readFileSync(podsJson, 'utf8')) as LabFile;
}
