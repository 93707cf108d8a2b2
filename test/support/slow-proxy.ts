// A TCP pass-through on 127.0.0.1 that delays what the server sends, so a test can act while a client is in the
// middle of a long read (TLS is end-to-end: the proxy sees only bytes). onBytes reports how much the server has
// sent so far; close() drops every connection and stops listening, as a dead apiserver's port would.
import net from 'node:net';

export interface SlowProxy {
  port: number;
  serverBytes(): number;
  close(): Promise<void>;
}

export async function startSlowProxy(targetPort: number, opts: { delayMsPerChunk: number; onBytes?: (total: number) => void }): Promise<SlowProxy> {
  let total = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    // Server bytes go through a chain of delayed writes; the client is ended only after the chain drained, so a
    // server that closes right after its response (Connection: close) does not cut the delayed response short.
    let chain = Promise.resolve();
    const later = (fn: () => void): void => {
      chain = chain.then(() => new Promise<void>((r) => setTimeout(() => { fn(); r(); }, opts.delayMsPerChunk)));
    };
    client.on('error', () => upstream.destroy()).on('close', () => {
      upstream.destroy();
      sockets.delete(client);
    });
    upstream.on('error', () => later(() => client.destroy()));
    upstream.on('end', () => later(() => client.end()));
    upstream.on('close', () => sockets.delete(upstream));
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      later(() => {
        if (!client.destroyed) client.write(chunk);
        total += chunk.length;
        opts.onBytes?.(total);
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    serverBytes: () => total,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
