// The lab's load generator: HTTP/1.1 keep-alive GETs to one URL, printed as one JSON object on stdout.
//   --rate R > 0: open loop at R requests/s. Two latencies: latencyMs from the moment the request was written
//                 to its socket to the end of the response (service time: what a sidecar or probe adds), and
//                 latencyFromScheduleMs from the request's scheduled time, so a stalled server shows up as
//                 latency instead of silently lowering the rate (coordinated omission); the latter also
//                 carries this generator's own timer lateness (~1 ms timers).
//   --rate 0:     closed loop, every connection sends its next request as soon as the last one answered.
//   --samples F:  also write every answered request to F, one line "<written> <latency>" in microseconds, the
//                 first on CLOCK_MONOTONIC (process.hrtime), so a benchmark can split one long run into the
//                 periods in which something else (e.g. the probe) was on or off (bench/lab-overhead.sh).
// Bounded: it stops after --duration seconds plus a 5 s grace for requests in flight.
import http from 'node:http';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: {
  url: { type: 'string' }, rate: { type: 'string', default: '0' }, duration: { type: 'string', default: '5' },
  connections: { type: 'string', default: '8' }, 'max-requests': { type: 'string', default: '10000000' },
  samples: { type: 'string' },
} });
if (!values.url) { process.stderr.write('loadgen: --url is required\n'); process.exit(2); }
const url = new URL(values.url);
const rate = Number(values.rate);
const durationMs = Number(values.duration) * 1000;
const conns = Math.max(1, Number(values.connections));
const maxRequests = Number(values['max-requests']);
const agent = new http.Agent({ keepAlive: true, maxSockets: conns });

const latenciesUs = [];
const writtenUs = []; // parallel to latenciesUs, only with --samples
const fromScheduleUs = [];
const statuses = {};
let errors = 0, sent = 0, done = 0, inflight = 0;
const lastErrors = [];

function once(scheduledNs) {
  sent++; inflight++;
  return new Promise((resolve) => {
    const req = http.request({ host: url.hostname, port: Number(url.port || 80), path: url.pathname + url.search,
      agent, headers: { 'user-agent': 'lab-loadgen' }, timeout: 10_000 }, (res) => {
      res.on('data', () => {});
      res.on('end', () => {
        const now = process.hrtime.bigint();
        fromScheduleUs.push(Number(now - scheduledNs) / 1000);
        latenciesUs.push(Number(now - (writtenNs ?? scheduledNs)) / 1000);
        if (values.samples) writtenUs.push(Number((writtenNs ?? scheduledNs) / 1000n));
        statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
        done++; inflight--; resolve();
      });
    });
    let writtenNs;
    req.on('finish', () => { writtenNs = process.hrtime.bigint(); });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => {
      errors++; done++; inflight--;
      if (lastErrors.length < 5) lastErrors.push(e.message);
      resolve();
    });
    req.end();
  });
}

const start = process.hrtime.bigint();
const endNs = start + BigInt(durationMs) * 1_000_000n;
if (rate > 0) {
  // Open loop: a timer tick sends every request whose scheduled time has passed.
  const intervalNs = 1e9 / rate;
  let i = 0;
  await new Promise((resolve) => {
    const tick = () => {
      const now = process.hrtime.bigint();
      while (i < maxRequests) {
        const at = start + BigInt(Math.round(i * intervalNs));
        if (at > now || at >= endNs) break;
        void once(at); i++;
      }
      if (now >= endNs || i >= maxRequests) return resolve();
      // Always sleep until the next scheduled request, at least one timer tick (~1 ms): never setImmediate,
      // which at 1000/s and above (next request < 1 ms away) spun the event loop and took most of a core from
      // the sidecar and app under test on this 2-core machine. Requests that fall due together go together.
      const next = start + BigInt(Math.round(i * intervalNs));
      const waitMs = Number(next - process.hrtime.bigint()) / 1e6;
      setTimeout(tick, Math.max(1, Math.floor(waitMs)));
    };
    tick();
  });
} else {
  const worker = async () => {
    while (process.hrtime.bigint() < endNs && sent < maxRequests) await once(process.hrtime.bigint());
  };
  await Promise.all(Array.from({ length: conns }, worker));
}
const graceEnd = Date.now() + 5000;
while (inflight > 0 && Date.now() < graceEnd) await new Promise((r) => setTimeout(r, 10));
const elapsedS = Number(process.hrtime.bigint() - start) / 1e9;
agent.destroy();

if (values.samples) {
  const lines = new Array(latenciesUs.length);
  for (let k = 0; k < latenciesUs.length; k++) lines[k] = `${writtenUs[k]} ${latenciesUs[k].toFixed(1)}`;
  writeFileSync(values.samples, lines.join('\n') + '\n');
}
latenciesUs.sort((a, b) => a - b);
fromScheduleUs.sort((a, b) => a - b);
const pick = (xs, p) => xs.length ? +(xs[Math.min(xs.length - 1, Math.floor(p * xs.length))] / 1000).toFixed(3) : null;
const q = (p) => pick(latenciesUs, p);
const qs = (p) => pick(fromScheduleUs, p);
process.stdout.write(JSON.stringify({
  url: values.url, mode: rate > 0 ? 'fixed' : 'max', targetRate: rate, connections: conns,
  durationS: +elapsedS.toFixed(3), requests: done, errors, statuses, lostInFlight: inflight,
  rps: +(done / Math.min(elapsedS, durationMs / 1000 + 0.001)).toFixed(1),
  latencyMs: { p50: q(0.5), p90: q(0.9), p99: q(0.99), max: q(1) },
  ...(rate > 0 ? { latencyFromScheduleMs: { p50: qs(0.5), p90: qs(0.9), p99: qs(0.99), max: qs(1) } } : {}),
  lastErrors,
}) + '\n');
process.exit(0);
