import net from 'node:net';

/**
 * A TCP relay to a server on 127.0.0.1 that delays every byte by half of `rttMs` each way: a
 * registry that answers as one across a network would, seen from a CI runner (a loopback
 * registry answers in microseconds, which makes a short command's start-up look like all of
 * it). Bandwidth is not limited; only propagation delay is added. Order is kept (timers of one
 * delay fire in the order they were set), and a connection whose delayed bytes pile up past
 * `MAX_QUEUED` stops reading until they drain.
 */
export interface LatencyRelay {
  /** `127.0.0.1:PORT`, for image references. */
  host: string;
  close(): Promise<void>;
}

const MAX_QUEUED = 16 * 1024 * 1024;

export async function startLatencyRelay(targetPort: number, rttMs: number): Promise<LatencyRelay> {
  const oneWay = rttMs / 2;
  const sockets = new Set<net.Socket>();
  const forward = (from: net.Socket, to: net.Socket) => {
    let queued = 0;
    from.on('data', (chunk: Buffer) => {
      queued += chunk.length;
      if (queued > MAX_QUEUED) from.pause();
      setTimeout(() => {
        queued -= chunk.length;
        if (!to.destroyed) to.write(chunk);
        if (queued <= MAX_QUEUED && from.isPaused()) from.resume();
      }, oneWay);
    });
    from.on('end', () => setTimeout(() => to.end(), oneWay));
    from.on('error', () => to.destroy());
    from.on('close', () => setTimeout(() => to.destroy(), oneWay));
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) { sockets.add(s); s.on('close', () => sockets.delete(s)); }
    forward(client, upstream);
    forward(upstream, client);
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  return {
    host: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    close: () => new Promise((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()); }),
  };
}
