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
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      upstream.pause();
      setTimeout(() => {
        if (!client.destroyed) client.write(chunk);
        total += chunk.length;
        opts.onBytes?.(total);
        upstream.resume();
      }, opts.delayMsPerChunk);
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
