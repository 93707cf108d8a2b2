// The lab's app server: one per pod, plain HTTP/1.1 on the pod's app port, no dependencies.
// It answers fixed bodies and can call its upstreams by pod IP, so that calls leave through the pod's
// outbound sidecar (iptables redirects them to 15001) like an Istio app's would.
//   GET /whoami               -> JSON {pod, remote, local}: the test reads "remote" to see 127.0.0.6
//   GET /call/<svc>/<path...> -> forwards GET /<path...> to <svc>, returns its status and body
//   GET /productpage          -> fans out to every upstream (bookinfo-like), 200 if all answered 2xx
//   anything else             -> 200 "<pod> <method> <path>\n"
// Config: argv[2] = JSON file {pod, port, bypassPort, upstreams: {name: "ip:port"}}.
import http from 'node:http';
import { readFileSync } from 'node:fs';

const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'));
// Keep-alive toward the sidecar, as Envoy-fronted apps usually do; bounded so a dead upstream cannot pile up.
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function callUpstream(svc, path, headers) {
  const target = cfg.upstreams[svc];
  if (!target) return Promise.resolve({ status: 404, body: `unknown upstream ${svc}\n` });
  const [host, port] = target.split(':');
  return new Promise((resolve) => {
    const req = http.request({ host, port: Number(port), path, agent, method: 'GET',
      headers: { host: `${svc}:${port}`, 'x-request-id': headers['x-request-id'] ?? undefined, 'user-agent': `lab-${cfg.pod}` },
      timeout: 5000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 502, body: Buffer.concat(chunks).toString() }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ status: 502, body: `upstream ${svc} failed: ${e.message}\n` }));
    req.end();
  });
}

function send(res, status, body, type = 'text/plain') {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

async function handle(req, res) {
  const url = req.url ?? '/';
  // Drain any request body so keep-alive connections stay usable.
  req.resume();
  if (url === '/whoami') {
    const remote = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
    const local = `${req.socket.localAddress}:${req.socket.localPort}`;
    return send(res, 200, JSON.stringify({ pod: cfg.pod, remote, local, headers: req.headers }) + '\n', 'application/json');
  }
  const call = /^\/call\/([a-z0-9-]+)(\/.*)?$/.exec(url);
  if (call) {
    const r = await callUpstream(call[1], call[2] ?? '/', req.headers);
    return send(res, r.status, r.body);
  }
  if (url === '/productpage') {
    const rs = await Promise.all(Object.keys(cfg.upstreams).map((s) => callUpstream(s, `/${s}/0`, req.headers)));
    const ok = rs.every((r) => r.status >= 200 && r.status < 300);
    return send(res, ok ? 200 : 502, rs.map((r) => `${r.status} ${r.body.trim()}`).join('\n') + '\n');
  }
  return send(res, 200, `${cfg.pod} ${req.method} ${url}\n`);
}

const servers = [];
// The bypass port is excluded from the inbound redirect (like excludeInboundPorts): the same app, no sidecar.
for (const port of [cfg.port, cfg.bypassPort].filter(Boolean)) {
  const server = http.createServer(handle);
  server.keepAliveTimeout = 60_000;
  server.listen(port, '0.0.0.0', () => process.stderr.write(`lab app ${cfg.pod} listening on ${port}\n`));
  servers.push(server);
}
process.on('SIGTERM', () => { for (const s of servers) s.close(); process.exit(0); });
