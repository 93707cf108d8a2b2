// The real BPF programs and loader against the Cilium reference evaluator (real kernel, root): the random policy
// sets of test/support/random-policies.ts go through compilePlan, the config through the loader's own config code
// into the maps, and every request of the universe through the tc program with BPF_PROG_TEST_RUN
// (shadow-probe/build/verdicts: a SYN, the request, the response; the wire leg's verdict after the loader's
// userspace step). The unit differential checks the same sets on a model of the probe; this one checks the probe.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { compilePlan } from '../../src/core/shadow/probe-config.js';
import { CiliumEvaluator } from '../../src/core/cilium/evaluator.js';
import { describeRequest } from '../../src/core/verify/request.js';
import { probeSkipReason } from '../support/probe.js';
import { REPO_ROOT } from '../support/cluster.js';
import { randomPolicySets, requestsTo, specsOf, UNIVERSE } from '../support/random-policies.js';

const VERDICTS = join(REPO_ROOT, 'shadow-probe', 'build', 'verdicts');
const skip = probeSkipReason() ?? (existsSync(VERDICTS) ? undefined : `no ${VERDICTS}: run 'make probe-build'`);

test('the real programs and loader give Cilium\'s verdicts on random policy sets (100; DIFF_SETS and DIFF_SEED pick others)', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'probe-diff-'));
  const proc = spawn(VERDICTS, [], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => { stderr += String(d); });
  const out = createInterface({ input: proc.stdout! })[Symbol.asyncIterator]();
  const answer = async (): Promise<string> => {
    const r = await out.next();
    if (r.done) throw new Error(`verdicts exited: ${stderr}`);
    return r.value;
  };
  let compared = 0; let l7 = 0;
  try {
    for (const set of randomPolicySets(Number(process.env.DIFF_SEED ?? 0x5eed), Number(process.env.DIFF_SETS ?? 100))) {
      const compiled = compilePlan(set.policies, UNIVERSE.pods);
      // a cgroup id makes each pod local (a pod named by IP alone is looked for on the node, and skipped when absent)
      const cfg = { ...compiled.config, pods: compiled.config.pods.map((p, i) => ({ ...p, cgroupId: 4_000_000 + i })) };
      const file = join(dir, 'config.json');
      writeFileSync(file, JSON.stringify(cfg));
      const evaluator = new CiliumEvaluator(set.policies);
      const asked: { line: string; want: string; what: string }[] = [];
      for (const dst of UNIVERSE.pods) {
        const l7Ports = new Set(compiled.config.l7.filter((r) => !r.pod || r.pod === dst.name).map((r) => r.port));
        for (const req of requestsTo(dst)) {
          // plain TCP on a port with L7 rules: Cilium's proxy refuses it, the probe parses no HTTP there (known gap)
          if (req.protocol === 'TCP' && l7Ports.has(req.port)) continue;
          asked.push({ line: `req ${req.source.ip} ${dst.ip} ${req.port} ${req.protocol === 'HTTP' ? `${req.method} ${req.path}` : 'TCP'}`, want: evaluator.decide(req), what: describeRequest(req) });
        }
      }
      proc.stdin!.write(`config ${file}\n${asked.map((a) => a.line).join('\n')}\n`);
      assert.equal(await answer(), 'ok', `set ${set.index}: config refused\n${specsOf(set)}`);
      for (const a of asked) {
        const got = await answer();
        assert.ok(!got.startsWith('error'), `set ${set.index}: ${a.line}: ${got}`);
        if (got.includes('http=') && !got.includes('http=none')) l7++;
        compared++;
        assert.equal(got.split(' ')[0], a.want, `set ${set.index}: ${a.what} (${a.line}): the probe says "${got}"\n${specsOf(set)}\nprobe config: ${JSON.stringify({ policy: cfg.policy, l7: cfg.l7 })}`);
      }
    }
  } finally {
    proc.stdin!.end();
    await new Promise((r) => proc.on('close', r));
    rmSync(dir, { recursive: true, force: true });
  }
  assert.ok(compared > 15_000 && l7 > 1000, `compared ${compared} requests, ${l7} with an L7 verdict`);
});
