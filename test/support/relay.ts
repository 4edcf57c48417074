import net from 'node:net';
import { networkInterfaces } from 'node:os';

/**
 * This machine's own non-loopback IPv4 address: a server reached through it counts as a remote
 * host for ocipush (HTTPS by default, no clear-text password, proxied when a proxy is set).
 */
export function nonLoopbackAddress(): string {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  throw new Error('this test needs a non-loopback IPv4 address on this machine (a network interface besides lo)');
}

export interface Relay {
  port: number;
  /** `ADDRESS:PORT`, for image references. */
  host: string;
  /** Connections accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

export interface RelayOptions {
  /**
   * Delay every byte by half of this each way: a registry that answers as one across a network
   * would, seen from a CI runner (the bench's `--rtt`). Bandwidth is not limited; order is kept
   * (timers of one delay fire in the order they were set).
   */
  rttMs?: number;
}

/** Delayed bytes a connection may have in flight before it stops reading until they drain. */
const MAX_QUEUED = 16 * 1024 * 1024;

/** A TCP relay from address:port to a server on 127.0.0.1: bytes pass through untouched, at once or after a delay. */
export async function relay(address: string, targetPort: number, options: RelayOptions = {}): Promise<Relay> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const oneWay = (options.rttMs ?? 0) / 2;
  const server = net.createServer((client) => {
    accepted++;
    const upstream = net.connect(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) { sockets.add(s); s.on('close', () => sockets.delete(s)); }
    if (oneWay > 0) {
      delayed(client, upstream, oneWay);
      delayed(upstream, client, oneWay);
      return;
    }
    client.pipe(upstream).on('error', () => client.destroy());
    upstream.pipe(client).on('error', () => upstream.destroy());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, address, resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    host: `${address}:${port}`,
    connections: () => accepted,
    close: () => new Promise((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()); }),
  };
}

function delayed(from: net.Socket, to: net.Socket, delayMs: number): void {
  let queued = 0;
  from.on('data', (chunk: Buffer) => {
    queued += chunk.length;
    if (queued > MAX_QUEUED) from.pause();
    setTimeout(() => {
      queued -= chunk.length;
      if (!to.destroyed) to.write(chunk);
      if (queued <= MAX_QUEUED && from.isPaused()) from.resume();
    }, delayMs);
  });
  // A side that finished sending passes its end on after the bytes before it; only a side cut
  // off cuts the other (destroying it would drop what it has still to write: a truncated body).
  let ended = false;
  from.on('end', () => {
    ended = true;
    setTimeout(() => to.end(), delayMs);
  });
  from.on('error', () => to.destroy());
  from.on('close', () => {
    if (!ended) setTimeout(() => to.destroy(), delayMs);
  });
}
