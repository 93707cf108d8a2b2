// `migrate translate`: reads policies and workloads through a KubeReader (cluster or snapshot, the same path
// the inventory uses), translates and verifies them in the pure core, validates every emitted manifest against
// its schema, diffs the plan against same-named resources in the source, and writes plans/<name>/ atomically.
import PQueue from 'p-queue';
import yaml from 'js-yaml';
import { createTwoFilesPatch } from 'diff';
import type { KubeObject } from '../core/model/k8s.js';
import { objectRef } from '../core/model/k8s.js';
import type { ResourceType } from '../core/model/resources.js';
import { CORE_TYPES, ISTIO_API_GROUPS } from '../core/model/resources.js';
import { userError } from '../core/errors.js';
import { translatePlan } from '../core/translate/plan.js';
import { buildTranslateResult, manifestFile } from '../core/translate/result.js';
import { ciliumRejects } from '../core/cilium/admission.js';
import type { TranslateResult } from '../core/translate/result.js';
import type { KubeReader, Progress } from '../ports/kube.js';
import { silentProgress } from '../ports/kube.js';
import type { ManifestValidator, PlanFile, PlanWriter } from '../ports/translate.js';

export interface TranslateRequest {
  reader: KubeReader;
  namespaces: string[];
  rootNamespace: string;
  verify: boolean;
  validator: ManifestValidator;
  /** Where to write the plan; undefined = do not write. */
  outDir?: string;
  writer?: PlanWriter;
  /** Renders the Markdown report written into the plan directory. */
  renderMarkdown?: (r: TranslateResult) => string;
  progress?: Progress;
  perPolicyCap?: number;
  combinedCap?: number;
}

const PLAN_GROUPS = ['cilium.io', 'gateway.networking.k8s.io'];
const PLAN_KINDS = new Set(['CiliumNetworkPolicy', 'CiliumClusterwideNetworkPolicy', 'Gateway', 'AuthorizationPolicy']);

/** Stable YAML for a manifest: no anchors, no line folding. */
export function manifestYaml(m: KubeObject): string {
  return yaml.dump(m, { noRefs: true, lineWidth: -1, quotingType: '"' });
}

/** The comparable part of an existing object: what a user would apply. */
function applied(o: KubeObject): KubeObject {
  const { resourceVersion: _rv, uid: _uid, ...meta } = o.metadata as KubeObject['metadata'] & Record<string, unknown>;
  for (const k of ['creationTimestamp', 'generation', 'managedFields', 'selfLink']) delete (meta as Record<string, unknown>)[k];
  const { status: _status, ...rest } = o;
  return { ...rest, metadata: meta } as KubeObject;
}

export async function runTranslate(req: TranslateRequest): Promise<TranslateResult> {
  const { reader } = req;
  const progress = req.progress ?? silentProgress;
  const queue = new PQueue({ concurrency: 4 });
  const allNs: string[] = [];
  const nsObjects: KubeObject[] = [];
  for await (const ns of reader.list(CORE_TYPES.namespaces)) { allNs.push(ns.metadata.name); nsObjects.push(ns); }
  const wanted = [...new Set(req.namespaces)].sort();
  for (const n of wanted) {
    if (!allNs.includes(n)) throw userError('MIGRATE_NS_NOT_FOUND', `namespace "${n}" does not exist in ${reader.source}`, { object: `Namespace/${n}`, next: `known here: ${allNs.sort().slice(0, 10).join(', ')}` });
  }
  const nsList: (string | undefined)[] = wanted.length ? wanted : [undefined];
  const istioNs: (string | undefined)[] = wanted.length ? [...new Set([...wanted, req.rootNamespace])].filter((n) => allNs.includes(n)) : [undefined];
  const discovery = await reader.discover([...ISTIO_API_GROUPS, ...PLAN_GROUPS]);
  const objects: KubeObject[] = [...nsObjects];
  const existing: KubeObject[] = [];
  const listInto = async (type: ResourceType, namespaces: (string | undefined)[], sink: KubeObject[]) => {
    let n = 0;
    for (const ns of namespaces) for await (const o of reader.list(type, ns === undefined ? {} : { namespace: ns })) { sink.push(o); n++; }
    progress.done(type.plural, n);
  };
  const workloadTypes = [CORE_TYPES.deployments, CORE_TYPES.statefulsets, CORE_TYPES.daemonsets, CORE_TYPES.jobs, CORE_TYPES.pods, CORE_TYPES.services];
  await Promise.all([
    ...workloadTypes.map((t) => () => listInto(t, nsList, objects)),
    ...discovery.types.filter((t) => ISTIO_API_GROUPS.includes(t.group)).map((t) => () => listInto(t, t.namespaced ? istioNs : [undefined], objects)),
    ...discovery.types.filter((t) => PLAN_GROUPS.includes(t.group) && PLAN_KINDS.has(t.kind)).map((t) => () => listInto(t, t.namespaced ? istioNs : [undefined], existing)),
  ].map((t) => queue.add(t)));
  // Stable input order: the same snapshot gives byte-identical output whatever order the reader yields.
  objects.sort((a, b) => `${a.apiVersion}/${objectRef(a)}`.localeCompare(`${b.apiVersion}/${objectRef(b)}`));

  const plan = translatePlan({ objects, namespaces: wanted, rootNamespace: req.rootNamespace });
  const result = buildTranslateResult(plan, reader.source, { verify: req.verify, perPolicyCap: req.perPolicyCap, combinedCap: req.combinedCap });

  // Every emitted manifest must pass its CRD schema; a failure is a bug in the translator, reported loudly.
  for (const m of plan.manifests) {
    const errs = req.validator.validate(m);
    if (errs.length) result.gaps.unshift({ code: 'TR_SCHEMA_INVALID', level: 'Error', object: objectRef(m), reason: `emitted manifest fails its schema: ${errs.slice(0, 3).join('; ')}`, target: 'report this as a bug in migrate' });
    // schema-valid is not enough: cilium-agent refuses some policies whole, and a refused one has no effect at all
    const refused = m.kind.startsWith('Cilium') ? ciliumRejects(m) : undefined;
    if (refused) result.gaps.unshift({ code: 'TR_SCHEMA_INVALID', level: 'Error', object: objectRef(m), reason: `cilium-agent would refuse the emitted policy (${refused}), so it would have no effect`, target: 'report this as a bug in migrate' });
  }
  result.summary.gapsByLevel.Error = result.gaps.filter((g) => g.level === 'Error').length;

  const ownIstio = [...existing, ...objects.filter((o) => o.kind === 'AuthorizationPolicy')];
  const patches: string[] = [];
  for (const m of plan.manifests) {
    const cur = ownIstio.find((o) => o.kind === m.kind && o.apiVersion.split('/')[0] === m.apiVersion.split('/')[0] && o.metadata.name === m.metadata.name && (o.metadata.namespace ?? '') === (m.metadata.namespace ?? ''));
    const before = cur ? manifestYaml(applied(cur)) : '';
    const after = manifestYaml(m);
    if (before === after) continue;
    const file = manifestFile(m);
    patches.push(createTwoFilesPatch(cur ? `a/${file}` : '/dev/null', `b/${file}`, before, after, '', '', { context: 3 }).replace(/^=+\n/, ''));
  }
  result.diff = patches.join('');
  if (req.outDir) {
    result.outDir = req.outDir;
    const files: PlanFile[] = plan.manifests.map((m) => ({ path: manifestFile(m), content: manifestYaml(m) }));
    files.push({ path: 'report.json', content: JSON.stringify(result, null, 2) + '\n' });
    if (req.renderMarkdown) files.push({ path: 'report.md', content: req.renderMarkdown(result) });
    files.push({ path: 'plan.diff', content: result.diff });
    (req.writer ?? (() => { throw new Error('outDir without writer'); })()).writeAll(req.outDir, files);
  }
  return result;
}

/** Documented exit code when the plan allows something Istio denied (a wider case exists). */
export const EXIT_WIDER = 5;
