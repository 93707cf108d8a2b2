import { Flags } from '@oclif/core';
import { MigrateCommand, sourceFlags } from '../cli/base.js';
import type { TranslateResult } from '../core/translate/result.js';
import { runTranslate, EXIT_WIDER } from '../workflows/translate.js';
import { openReader } from '../adapters/reader.js';
import { writeReport } from '../adapters/fs/report.js';
import { fsPlanWriter } from '../adapters/fs/plan-writer.js';
import { SchemaValidator } from '../adapters/schema/validator.js';
import { stderrProgress } from '../adapters/progress.js';
import { renderTranslateMarkdown, renderTranslateText } from '../render/translate.js';

export default class Translate extends MigrateCommand<typeof Translate> {
  static override summary = 'Translate Istio policy to Cilium policy, verify it differentially, and write a plan';
  static override description = `Turns AuthorizationPolicy and PeerAuthentication into CiliumNetworkPolicy / CiliumClusterwideNetworkPolicy (and waypoint policies where the eBPF plane cannot express a rule), reports every other Istio construct as a gap with a target, and compares Istio's and Cilium's decisions on a request space derived from the policies.

Exit codes: 0 = no wider case; ${EXIT_WIDER} = the plan allows requests Istio denies (see the Error findings); 2 user error, 3 cluster error, 70 bug.`;
  static override examples = [
    '<%= config.bin %> translate --snapshot fixtures/online-shop/snapshot --out plans/online-shop',
    '<%= config.bin %> translate --context prod -n shop --out plans/shop --output shop.md',
    '<%= config.bin %> translate --snapshot snap/ --no-verify --json',
  ];

  static override flags = {
    ...sourceFlags,
    out: Flags.string({ description: 'write the plan (one YAML per resource, report.md, report.json, plan.diff) to this directory, replacing it atomically' }),
    verify: Flags.boolean({ description: 'differentially verify the translation (--no-verify to skip)', default: true, allowNo: true }),
    output: Flags.string({ char: 'o', description: 'also write the report to FILE (.md for Markdown, .json for the Result)' }),
    'max-requests': Flags.integer({ description: 'requests per source policy before sampling', default: 50_000, min: 100 }),
  };

  async run(): Promise<TranslateResult> {
    const f = this.flags;
    const reader = openReader({ snapshot: f.snapshot, kubeconfig: f.kubeconfig, context: f.context });
    const result = await runTranslate({
      reader,
      namespaces: f.namespace ?? [],
      rootNamespace: f['root-namespace'],
      verify: f.verify,
      validator: new SchemaValidator(),
      ...(f.out ? { outDir: f.out, writer: fsPlanWriter } : {}),
      renderMarkdown: renderTranslateMarkdown,
      progress: stderrProgress(this.progressEnabled(reader.live)),
      perPolicyCap: f['max-requests'],
    });
    if (f.output) writeReport(f.output, result, renderTranslateMarkdown);
    if (!this.jsonEnabled()) this.log(renderTranslateText(result));
    if (result.summary.wider > 0 || result.gaps.some((g) => g.code === 'TR_WIDER')) process.exitCode = EXIT_WIDER;
    return result;
  }
}
