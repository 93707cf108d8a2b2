// Benchmark (issue 6): Envoy TEXT access log parsing, target >= 1,000,000 lines/s. Baseline in the same run:
// a plain `split(' ')` pass over the same lines (no field semantics), and the JSON format via JSON.parse.
// Run: `make bench-shadow` or `node dist/bench/shadow-parse.js [lines]`.
import { parseEnvoyText } from '../src/core/shadow/envoy-text.js';
import { parseEnvoyJson } from '../src/core/shadow/envoy-json.js';
import { genLines } from './shadow-gen.js';
import { best as timeBest, perCpu } from './timing.js';

const N = Number(process.argv[2] ?? 1_000_000);
const RUNS = 5;
const lines = genLines(N);
const text = lines.join('\n') + '\n';

// Wall time and CPU time (user + system) of the best run: on a shared, loaded machine the wall clock counts
// time this process waited for a CPU; CPU seconds are what one core needs for the work.
const best = (fn: () => number) => timeBest(RUNS, fn);

const split = best(() => {
  let n = 0; let pos = 0;
  while (pos < text.length) { let nl = text.indexOf('\n', pos); if (nl < 0) nl = text.length; n += text.slice(pos, nl).split(' ').length > 20 ? 1 : 0; pos = nl + 1; }
  return n;
});
let sink = 0;
const parse = best(() => { const st = parseEnvoyText(text, 'reviews', (e) => { sink += e.status; }); if (st.failed) throw new Error(`parse failures: ${JSON.stringify(st.failures[0])}`); return st.parsed; });
const jsonText = lines.slice(0, Math.min(N, 200_000)).map((l) => JSON.stringify({ start_time: l.slice(1, 25), method: 'GET', path: '/reviews/1', protocol: 'HTTP/1.1', response_code: 200, response_flags: '-', response_code_details: 'via_upstream', bytes_received: 0, bytes_sent: 120, duration: 1, upstream_service_time: '1', request_id: 'x', authority: 'reviews:9080', upstream_host: '127.0.0.1:9080', upstream_cluster: 'inbound|9080||', upstream_local_address: '127.0.0.6:1', downstream_local_address: '10.233.0.13:9080', downstream_remote_address: '10.233.0.20:1', requested_server_name: null, route_name: 'default' })).join('\n');
const json = best(() => parseEnvoyJson(jsonText, 'reviews', (e) => { sink += e.status; }).parsed);

const rate = (x: { s: number; n: number }) => x.n / x.s;
const load1 = (await import('node:os')).loadavg()[0]!.toFixed(2);
const out = {
  lines: N,
  bytesPerLine: Math.round(text.length / N),
  loadAvg1m: load1,
  textLinesPerSec: Math.round(rate(parse)),
  textLinesPerCpuSec: perCpu(parse),
  splitBaselineLinesPerCpuSec: perCpu(split),
  ratioVsSplitCpu: Math.round((perCpu(parse) / perCpu(split)) * 100) / 100,
  splitBaselineLinesPerSec: Math.round(rate(split)),
  ratioVsSplit: Math.round((rate(parse) / rate(split)) * 100) / 100,
  jsonLinesPerSec: Math.round(rate(json)),
  target: 1_000_000,
  passWall: rate(parse) >= 1_000_000,
  passCpu: perCpu(parse) >= 1_000_000,
  sink: sink > 0,
};
console.log(JSON.stringify(out));
