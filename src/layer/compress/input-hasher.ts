import { Worker } from 'node:worker_threads';
import { startWorker } from './exec-argv.js';
import type { Digest } from '../../oci/digest.js';
import type { HashReply, HashRequest } from './protocol.js';

export interface InputDigest {
  digest: Digest;
  size: number;
}

/** One stream being hashed on the hash worker; bound to that worker, so a restart cannot lose blocks silently. */
export interface HashSession {
  update(data: SharedArrayBuffer, length: number): void;
  digest(): Promise<InputDigest>;
  discard(): void;
}

/**
 * One worker thread shared by every compressor that hashes its input off the main thread. It
 * holds the process open only while some session awaits its digest.
 */
class HashWorker {
  private worker: Worker | null = null;
  private nextSession = 0;
  private readonly waiting = new Map<number, { worker: Worker; resolve: (d: InputDigest) => void; reject: (err: Error) => void }>();
  private readonly dead = new WeakSet<Worker>();

  open(): HashSession {
    const worker = (this.worker ??= this.spawn());
    const session = this.nextSession++;
    const post = (msg: HashRequest) => { if (!this.dead.has(worker)) worker.postMessage(msg); };
    return {
      update: (data, length) => post({ op: 'update', session, data, length }),
      digest: () => new Promise((resolve, reject) => {
        if (this.dead.has(worker)) {
          reject(new Error('hashing worker failed: it exited while hashing'));
          return;
        }
        this.waiting.set(session, { worker, resolve, reject });
        worker.ref();
        post({ op: 'digest', session });
      }),
      discard: () => post({ op: 'discard', session }),
    };
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    await worker?.terminate();
  }

  private spawn(): Worker {
    const worker = startWorker(new URL('./hash-worker.js', import.meta.url));
    worker.on('message', (reply: HashReply) => {
      const w = this.waiting.get(reply.session);
      this.waiting.delete(reply.session);
      if (![...this.waiting.values()].some((x) => x.worker === worker)) worker.unref();
      w?.resolve({ digest: `sha256:${reply.hex}`, size: reply.size });
    });
    const fail = (err: Error) => {
      if (this.dead.has(worker)) return;
      this.dead.add(worker);
      if (this.worker === worker) this.worker = null;
      for (const [session, w] of this.waiting) {
        if (w.worker !== worker) continue;
        this.waiting.delete(session);
        w.reject(new Error(`hashing worker failed: ${err.message}`, { cause: err }));
      }
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`it exited with code ${code}`)));
    worker.unref(); // after the listeners: adding a 'message' listener refs the worker again
    return worker;
  }
}

let hasher: HashWorker | undefined;

export function hashWorker(): HashWorker {
  hasher ??= new HashWorker();
  return hasher;
}

export async function closeHashWorker(): Promise<void> {
  await hasher?.close();
}
