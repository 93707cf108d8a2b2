// The live workflow of `migrate shadow` through fakes of its ports (no root needed): a probe that replays the
// recorded lab probe output, a telemetry source that hands out the recorded access logs, the real results
// store on disk. Checks the incremental, append-only run, its Result, and --resume semantics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runShadow } from '../../src/workflows/shadow.js';
import { FsShadowStore } from '../../src/adapters/shadow/store.js';
import { readPlanDir } from '../../src/adapters/shadow/plan-reader.js';
import { packagePath } from '../../src/adapters/fs/package.js';
import { renderShadowMarkdown } from '../../src/render/shadow.js';
import type { Clock } from '../../src/ports/clock.js';
import type { EnvoyTelemetry, ProbeRunner } from '../../src/ports/shadow.js';
import type { ShadowRunMeta } from '../../src/core/shadow/run.js';
import { MigrateError } from '../../src/core/errors.js';

const FIX = packagePath('fixtures', 'shadow', 'lossless');
const recMeta = JSON.parse(readFileSync(join(FIX, 'meta.json'), 'utf8')) as ShadowRunMeta;
const topo = JSON.parse(readFileSync(packagePath('lab', 'topology.json'), 'utf8')) as { pods: { name: string; ip: string; serviceAccount: string; labels: Record<string, string>; sidecar: boolean }[] };
const pods = topo.pods.map((p) => ({ name: p.name, namespace: 'bookinfo', ip: p.ip, serviceAccount: p.serviceAccount, labels: p.labels, sidecar: p.sidecar, ...(p.sidecar ? { accessLog: `/recorded/${p.name}.log` } : {}) }));
const access = Object.fromEntries(Object.keys(recMeta.accessLogs).map((pod) => [pod, readFileSync(join(FIX, 'access', `${pod}.log`), 'utf8')]));
const probeText = readFileSync(join(FIX, 'probe.jsonl'), 'utf8');

/** Hands out each recorded log in two halves, one per poll, honouring resume offsets. */
function fakeTelemetry(): EnvoyTelemetry & { polls: number } {
  const t = {
    polls: 0,
    follow(logs: Record<string, string>, from: Record<string, number> | 'end') {
      const off: Record<string, number> = {};
      for (const pod of Object.keys(logs)) off[pod] = from === 'end' ? 0 : (from[pod] ?? 0);
      return {
        poll: () => {
          t.polls++;
          const out: { pod: string; text: string }[] = [];
          for (const pod of Object.keys(logs)) {
            const text = access[pod.replace(/^\/recorded\//, '')] ?? '';
            const start = off[pod]!;
            if (start >= text.length) continue;
            const half = text.indexOf('\n', start + Math.floor((text.length - start) / 2));
            const end = half < 0 ? text.length : half + 1;
            out.push({ pod, text: text.slice(start, end) });
            off[pod] = end;
          }
          return out;
        },
        offsets: () => ({ ...off }),
      };
    },
  };
  return t;
}

function fakeProbe(text: string): ProbeRunner & { started: number } {
  const p = {
    where: 'fake', started: 0,
    async start(_cfg: unknown, onLines: (t: string) => void) {
      p.started++;
      setTimeout(() => { if (text) onLines(text); }, 20);
      const exit = { code: 0, signal: 'SIGINT', stderrTail: '' };
      return { exited: new Promise<typeof exit>(() => {}), stop: async () => exit };
    },
  };
  return p;
}

/** Time runs from the recording's start, so the recorded records are "now" for the join's watermark. */
function recordingClock(): Clock {
  const t0 = Date.now();
  return { now: () => new Date(recMeta.startedAtMs + (Date.now() - t0)) };
}

test('live run through fakes: the same verdicts as the recording, written append-only, then resumable', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'shadow-wf-'));
  const plan = readPlanDir(join(FIX, 'plan'));
  const base = { namespace: 'bookinfo', mode: 'local' as const, clock: recordingClock(), plan, pods, renderMarkdown: renderShadowMarkdown, tickMs: 40, windowMs: 1000 };
  const tel = fakeTelemetry();
  const lines: string[] = [];
  const r1 = await runShadow({ ...base, store: new FsShadowStore(dir), probe: fakeProbe(probeText), telemetry: tel, durationMs: 400, live: (l) => lines.push(l) });
  // The recording's verdicts (fixtures/shadow/lossless/expected.json): 100 requests, no disagreement.
  assert.equal(r1.summary.outcome, 'agreement', JSON.stringify({ s: r1.summary, m: r1.matrix, d: r1.disagreements.slice(0, 2) }));
  assert.equal(r1.summary.envoyRequests, 100);
  assert.equal(r1.summary.matched, 100);
  assert.equal(r1.matrix.denyDeny, 20);
  assert.ok(tel.polls >= 3 && lines.length >= 3 && /agree \d+/.test(lines.at(-1)!), lines.join('\n'));
  // Append-only files hold exactly what arrived; the meta matches the recorded compile of the same plan.
  assert.equal(readFileSync(join(dir, 'probe.jsonl'), 'utf8'), probeText);
  for (const [pod, text] of Object.entries(access)) assert.equal(readFileSync(join(dir, 'access', `${pod}.log`), 'utf8'), text, pod);
  const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as ShadowRunMeta;
  assert.deepEqual(meta.rules, recMeta.rules);
  assert.deepEqual(meta.pods, recMeta.pods);
  const cursor = JSON.parse(readFileSync(join(dir, 'cursor.json'), 'utf8')) as { access: Record<string, number> };
  assert.equal(cursor.access['reviews'], Buffer.byteLength(access['reviews']!));
  assert.ok(JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')).summary.matched === 100);

  // A second run into the same directory without --resume is refused with the next step.
  await assert.rejects(runShadow({ ...base, store: new FsShadowStore(dir), probe: fakeProbe(''), telemetry: fakeTelemetry(), durationMs: 100 }), (e: unknown) => e instanceof MigrateError && e.code === 'MIGRATE_SHADOW_RESULTS_EXIST');
  // --resume: what is on disk counts again, the sources continue from the cursor (nothing new here).
  const r2 = await runShadow({ ...base, store: new FsShadowStore(dir), probe: fakeProbe(''), telemetry: fakeTelemetry(), durationMs: 150, resume: true });
  assert.deepEqual(r2.matrix, r1.matrix);
  assert.equal(readFileSync(join(dir, 'probe.jsonl'), 'utf8'), probeText, 'nothing re-appended');
});
