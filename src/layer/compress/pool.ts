import { Worker } from 'node:worker_threads';
import { startWorker } from './exec-argv.js';
import type { BlockCodec } from './block-codec.js';
import type { BlockBuffer, JobMessage, ResultMessage } from './protocol.js';

export interface BlockJob {
  /** Whose job it is, so a destroyed compressor can withdraw its jobs. */
  owner: object;
  codec: BlockCodec;
  level: number;
  /** Transferred to the worker (shared if a SharedArrayBuffer); handed back through `done` for reuse. */
  input: BlockBuffer;
  length: number;
  /** Where the worker writes the compressed bytes (transferred); without it the worker allocates. */
  output?: ArrayBuffer;
  /** `[offset, length]` pairs of the input whose SHA1 and SHA256 the worker computes too. */
  ranges?: Uint32Array;
  /**
   * The compressed bytes (a view of the job's output buffer when they fit in it), the input
   * buffer handed back for reuse, and the digests of `ranges` (range-digests.ts), if any.
   */
  done(err: Error | null, output: Buffer | null, input: BlockBuffer | null, digests?: Buffer): void;
}

interface PoolWorker {
  worker: Worker;
  running: Map<number, BlockJob>;
  gone: boolean;
  /** Set by close(): called once the worker has no job left. */
  onIdle?: () => void;
}

/**
 * Jobs posted ahead to each worker, so it never idles waiting for the main thread to hand it
 * the next block while that thread is busy producing tar or hashing.
 */
const DEPTH = 2;

/**
 * Worker threads shared by every compressor of the process, created on first need and kept for
 * the next layer. A worker holds the process open only while it has a job: an idle pool never
 * keeps a finished CLI alive.
 */
class CompressionPool {
  private readonly workers: PoolWorker[] = [];
  private readonly queue: BlockJob[] = [];
  private maxWorkers = 0;
  private nextId = 0;

  /** Worker threads running now (started, not yet gone). */
  get workerCount(): number {
    return this.workers.length;
  }

  submit(job: BlockJob, threads: number): void {
    this.maxWorkers = Math.max(this.maxWorkers, threads);
    this.queue.push(job);
    this.schedule();
  }

  /**
   * Starts workers up to `threads` before any job is there, so that their start-up (a Node
   * environment each, some 30-60 ms) overlaps the work before the first block (the walk, the
   * xattr scan) instead of delaying it. Idle, they hold nothing open.
   */
  warm(threads: number): void {
    this.maxWorkers = Math.max(this.maxWorkers, threads);
    while (this.workers.length < threads) this.spawn();
  }

  /** Drops the owner's queued jobs; the results of its running ones are discarded when they arrive. */
  cancel(owner: object): void {
    for (let i = this.queue.length - 1; i >= 0; i--) {
      if (this.queue[i]!.owner === owner) this.queue.splice(i, 1);
    }
    for (const w of this.workers) {
      for (const [id, job] of w.running) if (job.owner === owner) w.running.set(id, { ...job, done: () => {} });
    }
  }

  /**
   * Terminates every worker: queued jobs fail, running ones finish first. Node aborts the whole
   * process when a worker is terminated while it sets up a zlib stream ("close before init" in
   * node_zlib.cc), so a worker is never terminated in the middle of a job. Later jobs start new
   * workers.
   */
  async close(): Promise<void> {
    const workers = this.workers.splice(0);
    const queued = this.queue.splice(0);
    this.maxWorkers = 0;
    for (const job of queued) job.done(new Error('compression worker failed: the worker pool was closed'), null, null);
    await Promise.all(workers.map((w) => (w.running.size === 0 || w.gone ? undefined : new Promise<void>((idle) => { w.onIdle = idle; }))));
    await Promise.all(workers.map((w) => w.worker.terminate()));
  }

  private schedule(): void {
    while (this.queue.length > 0) {
      const w = this.pickWorker();
      if (!w) return;
      this.post(w, this.queue.shift()!);
    }
  }

  /** Spreads jobs over every allowed worker before posting a second one to any of them. */
  private pickWorker(): PoolWorker | undefined {
    let best: PoolWorker | undefined;
    for (const w of this.workers) {
      if (w.running.size < DEPTH && (!best || w.running.size < best.running.size)) best = w;
    }
    if ((!best || best.running.size > 0) && this.workers.length < this.maxWorkers) return this.spawn();
    return best;
  }

  private spawn(): PoolWorker {
    const worker = startWorker(new URL('./worker.js', import.meta.url));
    const w: PoolWorker = { worker, running: new Map(), gone: false };
    worker.on('message', (msg: ResultMessage) => this.finish(w, msg));
    worker.on('error', (err) => this.lose(w, err));
    worker.on('exit', (code) => this.lose(w, new Error(`compression worker exited with code ${code}`)));
    worker.unref(); // after the listeners: adding a 'message' listener refs the worker again
    this.workers.push(w);
    return w;
  }

  private post(w: PoolWorker, job: BlockJob): void {
    const id = this.nextId++;
    if (w.running.size === 0) w.worker.ref();
    w.running.set(id, job);
    const msg: JobMessage = { id, codec: job.codec, level: job.level, input: job.input, length: job.length };
    const transfer: ArrayBuffer[] = job.input instanceof ArrayBuffer ? [job.input] : [];
    if (job.output) {
      msg.output = job.output;
      transfer.push(job.output);
    }
    if (job.ranges) msg.ranges = job.ranges;
    w.worker.postMessage(msg, transfer);
  }

  private finish(w: PoolWorker, msg: ResultMessage): void {
    const job = w.running.get(msg.id);
    if (!job) return;
    w.running.delete(msg.id);
    if (w.running.size === 0) {
      w.worker.unref();
      w.onIdle?.();
    }
    if ('error' in msg) job.done(new Error(`compression failed: ${msg.error}`), null, msg.input);
    else job.done(null, Buffer.from(msg.output, 0, msg.length), msg.input, msg.digests && Buffer.from(msg.digests));
    this.schedule();
  }

  /** A worker that died fails its running jobs; the queue goes on with the others or a new one. */
  private lose(w: PoolWorker, err: Error): void {
    if (w.gone) return;
    w.gone = true;
    const i = this.workers.indexOf(w);
    if (i >= 0) this.workers.splice(i, 1);
    const jobs = [...w.running.values()];
    w.running.clear();
    w.worker.unref();
    w.onIdle?.();
    for (const job of jobs) job.done(new Error(`compression worker failed: ${err.message}`, { cause: err }), null, null);
    this.schedule();
  }
}

let pool: CompressionPool | undefined;

export function compressionPool(): CompressionPool {
  pool ??= new CompressionPool();
  return pool;
}
