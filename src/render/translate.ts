// TranslateResult -> terminal summary and the Markdown translation report (plans/<name>/report.md).
import type { TranslateResult } from '../core/translate/result.js';
import type { VerifyCounts } from '../core/verify/differential.js';
import { formatFinding } from '../core/model/finding.js';
import { markdownTable, textTable, type Cell } from './table.js';

function verifyCell(v: VerifyCounts | undefined): string {
  if (!v) return '-';
  return `${v.equal}/${v.requests} equal, ${v.narrower} narrower, ${v.wider} wider${v.sampled ? ` (sampled of ${v.space})` : ''}`;
}

function rows(r: TranslateResult): Cell[][] {
  return r.translations.map((t) => [t.source, t.action ?? '-', t.fidelity.toUpperCase(), t.manifests.map((m) => m.file).join(', ') || '-', verifyCell(t.verification)]);
}

const HEADERS = ['SOURCE', 'ACTION', 'FIDELITY', 'EMITTED', 'VERIFICATION'];

function headline(r: TranslateResult): string[] {
  const s = r.summary;
  return [
    `sources ${s.sources}: exact ${s.exact}, narrower ${s.narrower}, gap ${s.gap}, wider ${s.wider}; manifests ${s.manifests}`,
    `gaps: ${s.gapsByLevel.Error} Error, ${s.gapsByLevel.Warning} Warning, ${s.gapsByLevel.Info} Info`,
    r.verification ? `verification (whole scope): ${verifyCell(r.verification)}` : 'verification: off (--no-verify)',
  ];
}

export function renderTranslateText(r: TranslateResult): string {
  const out = [`Translation of ${r.source}${r.namespaces.length ? ` (namespaces ${r.namespaces.join(', ')})` : ''}`, ...headline(r), '', textTable(HEADERS, rows(r))];
  const errs = r.gaps.filter((g) => g.level !== 'Info');
  if (errs.length) out.push('', ...errs.map((g) => `${formatFinding({ level: g.level, code: g.code, object: g.object, message: g.reason })}\n    -> ${g.target}`));
  if (r.verification?.widerExamples.length) out.push('', 'WIDER (the eBPF plane allows what Istio denies):', ...r.verification.widerExamples.map((e) => `  ${e.request}  istio=${e.istio.decision} cilium=${e.cilium.decision} (${e.cilium.rules.join(',') || e.cilium.reason})`));
  if (r.outDir) out.push('', `plan written to ${r.outDir}/ (${r.manifests.length} manifests, report.md, report.json, plan.diff)`);
  return out.join('\n');
}

function examples(title: string, xs: VerifyCounts['narrowerExamples']): string[] {
  if (!xs.length) return [];
  return [`${title}:`, '', ...xs.map((e) => `- \`${e.request}\`: Istio **${e.istio.decision}** (${e.istio.rules.join(', ') || e.istio.reason}), eBPF plane **${e.cilium.decision}** (${e.cilium.rules.join(', ') || e.cilium.reason})`), ''];
}

export function renderTranslateMarkdown(r: TranslateResult): string {
  const out: string[] = [
    `# Translation report`, '',
    `Source: ${r.source}${r.namespaces.length ? `, namespaces ${r.namespaces.join(', ')}` : ', all namespaces'} (root namespace ${r.rootNamespace}).`, '',
    ...headline(r).map((l) => `- ${l}`), '',
    'Fidelity: **exact** = differentially equal on the derived request space; **narrower** = denies requests Istio allows (examples below); **gap** = not translated to Cilium policy (target named); **wider** = allows requests Istio denies (an Error).', '',
    '## Per source', '',
    markdownTable(HEADERS, rows(r)), '',
  ];
  if (r.requirements.length) out.push('## Cluster requirements', '', ...r.requirements.map((x) => `- ${x}`), '');
  out.push('## Gaps', '');
  if (r.gaps.length) out.push(markdownTable(['LEVEL', 'CODE', 'OBJECT', 'REASON', 'TARGET'], r.gaps.map((g) => [g.level, g.code, g.object, g.reason, g.target])), '');
  else out.push('None.', '');
  const detail = r.translations.filter((t) => t.narrowing.length || t.verification?.narrowerExamples.length || t.verification?.widerExamples.length);
  if (detail.length) {
    out.push('## Narrowing and counterexamples', '');
    for (const t of detail) {
      out.push(`### ${t.source} (${t.fidelity})`, '');
      if (t.narrowing.length) out.push(...t.narrowing.map((n) => `- ${n}`), '');
      if (t.verification) out.push(...examples('Wider examples', t.verification.widerExamples), ...examples('Narrower examples', t.verification.narrowerExamples));
    }
  }
  if (r.verification) {
    out.push('## Whole-scope verification', '', `${verifyCell(r.verification)}.`, '', ...examples('Wider examples', r.verification.widerExamples), ...examples('Narrower examples', r.verification.narrowerExamples));
  }
  out.push('## Emitted manifests', '', ...(r.manifests.length ? r.manifests.map((m) => `- \`${m.file}\` (${m.kind} ${m.namespace ? `${m.namespace}/` : ''}${m.name})`) : ['None.']), '');
  out.push('## Diff against the source', '', r.diff ? '```diff\n' + r.diff + '```' : 'No changes.', '');
  return out.join('\n');
}
