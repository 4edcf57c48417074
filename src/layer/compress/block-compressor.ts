import { Duplex, type Writable } from 'node:stream';
import { Digester } from '../../oci/digest.js';
import type { BlockCodec } from './block-codec.js';
import { BlockEncoder, outputCapacity } from './block-encoder.js';
import { hashWorker, type HashSession, type InputDigest } from './input-hasher.js';
import { compressionPool } from './pool.js';
import type { BlockBuffer } from './protocol.js';
import { RANGE_DIGEST_BYTES, digestRanges, type DigestReceiver, type RangeDigester } from './range-digests.js';

export interface BlockCompressorOptions {
  codec: BlockCodec;
  level: number;
  threads: number;
  blockSize: number;
  /** Also compute sha256 of the input, off the main thread when blocks go to workers. */
  digestInput: boolean;
}

interface PendingWrite {
  chunk: Uint8Array;
  offset: number;
  callback: (err?: Error | null) => void;
}

/** The ranges of one block whose digests are wanted: `[offset, length]` pairs, and who wants each. */
interface WantedDigests {
  ranges: number[];
  receivers: DigestReceiver[];
  tokens: number[];
}

/** One block on its way: dispatched, then compressed, then pushed out in order. */
interface Slot {
  output: Buffer | null;
}

/** Blocks compressed on the main thread (one thread, or a layer of one block) share one zlib state. */
let mainEncoder: BlockEncoder | undefined;

/**
 * Cuts its input into fixed-size blocks, compresses each into an independent gzip member (or
 * zstd frame) on the shared worker pool, and emits them in input order. Members are a function
 * of the block bytes alone, so the output is the same for any thread count, core count or
 * scheduling; across machines it is the same for the same zlib (process.versions.zlib: Node 20.20
 * and 22.23 both ship 1.3.1-e00f703 and agree byte for byte).
 *
 * Memory is bounded: at most threads×2 blocks are in flight (being compressed, or waiting for
 * the reader) besides the one being filled; beyond that, writes wait. A reader that stops
 * reading stops the writer the same way. Input blocks are reused; with `writeTo` the output
 * buffers are too, so a layer of any size runs in the same few buffers allocated at its start.
 */
export class BlockCompressor extends Duplex implements RangeDigester {
  private readonly maxInFlight: number;
  /** Blocks in shared memory, so the hash worker reads the very bytes the compressor gets. */
  private readonly shareBlocks: boolean;
  private readonly spare: ArrayBuffer[] = [];
  /** Output buffers back from the sink (writeTo only). */
  private readonly spareOutputs: ArrayBuffer[] = [];
  private readonly outputSize: number;
  private sink: Writable | null = null;
  /** Writes given to the sink and not yet called back. */
  private sinkAhead = 0;
  private sinkEnded: ((err?: Error | null) => void) | null = null;
  /** Output buffers allocated so far: with writeTo, a handful for any input length (tests check it). */
  outputBuffersAllocated = 0;
  private block: BlockBuffer | null = null;
  private filled = 0;
  private dispatched = 0;
  private readonly slots: Slot[] = [];
  private pending: PendingWrite | null = null;
  private finalCallback: ((err?: Error | null) => void) | null = null;
  private readerWaiting = true;
  private pumping = false;
  private again = false;
  private mainHash: Digester | null = null;
  private hashSession: HashSession | null = null;
  private digestRequested = false;
  private digestResult: InputDigest | null = null;
  /** Ranges to digest, by the number of the block that holds them (one not yet dispatched). */
  private readonly wanted = new Map<number, WantedDigests>();

  constructor(private readonly options: BlockCompressorOptions) {
    super({ readableHighWaterMark: options.blockSize, writableHighWaterMark: options.blockSize });
    this.maxInFlight = Math.max(2, options.threads * 2);
    this.outputSize = outputCapacity(options.blockSize);
    // With 2 threads the cores are saturated anyway and a hashing thread only adds its
    // overhead (measured: +0.3 s CPU, no gain, on /usr/share); from 3 threads up the main thread
    // (tar producer) is the critical path, and 0.3 s per 500 MB of hashing leaves it.
    this.shareBlocks = options.digestInput && options.threads > 2;
    if (options.digestInput && !this.shareBlocks) this.mainHash = new Digester();
  }

  /** sha256 and size of everything written; known once the stream has finished. */
  inputDigest(): InputDigest {
    if (!this.options.digestInput) throw new Error('createCompressor: inputDigest() needs the digestInput option');
    if (!this.digestResult) throw new Error('createCompressor: inputDigest() is known only after the stream has finished');
    return this.digestResult;
  }

  /**
   * Writes the compressed output into `sink` and ends it, instead of being read as a stream;
   * resolves once the sink has finished. Each output buffer is reused as soon as the sink calls
   * back its write, so the sink must keep no reference to a chunk after that (true of file
   * writers such as the staged blob, not of a PassThrough). Call it before writing the input.
   */
  writeTo(sink: Writable): Promise<void> {
    if (this.sink || this.dispatched > 0) throw new Error('createCompressor: writeTo() must come first, and once');
    this.sink = sink;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (err?: Error | null) => {
        if (settled) return;
        settled = true;
        // The 'error' listeners stay: either stream may still emit the error it was destroyed with.
        if (!err) { resolve(); return; }
        if (!this.destroyed) this.destroy(err);
        if (!sink.destroyed) sink.destroy(err);
        reject(err);
      };
      // A normal end closes the compressor before the sink has finished: only an early close fails.
      const onClose = () => {
        if (this.errored || !this.writableFinished) settle(this.errored ?? new Error('compressor closed before its output was written'));
      };
      sink.on('error', settle);
      this.on('error', settle);
      this.on('close', onClose);
      this.sinkEnded = settle;
      this.resume(); // the readable side only ends: the blocks go to the sink
    });
  }

  acceptsRange(start: number, length: number): boolean {
    const { blockSize } = this.options;
    const block = Math.floor(start / blockSize);
    return length > 0 && block >= this.dispatched && block === Math.floor((start + length - 1) / blockSize) && !this.destroyed;
  }

  digestRange(start: number, length: number, receiver: DigestReceiver, token: number): void {
    const block = Math.floor(start / this.options.blockSize);
    let wanted = this.wanted.get(block);
    if (!wanted) this.wanted.set(block, (wanted = { ranges: [], receivers: [], tokens: [] }));
    wanted.ranges.push(start - block * this.options.blockSize, length);
    wanted.receivers.push(receiver);
    wanted.tokens.push(token);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.mainHash?.update(chunk);
    this.pending = { chunk, offset: 0, callback };
    this.pump();
  }

  override _final(callback: (err?: Error | null) => void): void {
    // An empty input still gets one (empty) member: a zero-byte file is no gzip stream.
    if (this.filled > 0 || this.dispatched === 0) this.dispatch(true);
    this.finalCallback = callback;
    this.pump();
  }

  override _read(): void {
    this.readerWaiting = true;
    this.pump();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    compressionPool().cancel(this);
    this.hashSession?.discard();
    this.slots.length = 0;
    this.wanted.clear();
    this.pending = null;
    this.block = null;
    this.spare.length = 0;
    this.spareOutputs.length = 0;
    callback(err);
  }

  /**
   * The one place that moves data: emits finished blocks in order while the reader wants them,
   * admits input while fewer than maxInFlight blocks are out, and ends the stream once all is
   * emitted (and the input digest is known). Re-entrant calls (a write callback that writes
   * again, an inline block) just ask the running loop for another turn.
   */
  private pump(): void {
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.again = false;
        if (this.sink) this.writeOut();
        else {
          while (this.readerWaiting && this.slots.length > 0 && this.slots[0]!.output && !this.destroyed) {
            this.readerWaiting = this.push(this.slots.shift()!.output);
          }
        }
        if (this.pending && !this.destroyed) this.fill();
      } while (this.again && !this.destroyed);
      if (this.finalCallback && this.slots.length === 0 && !this.destroyed && this.digestReady()) {
        const callback = this.finalCallback;
        this.finalCallback = null;
        if (this.sink) {
          const ended = this.sinkEnded!;
          this.sink.end((err?: Error | null) => ended(err));
        }
        this.push(null);
        callback();
      }
    } finally {
      this.pumping = false;
    }
  }

  /**
   * Hands finished blocks to the sink in order, a bounded number at a time; each output buffer
   * comes back for the next block once the sink has written it.
   */
  private writeOut(): void {
    const sink = this.sink!;
    while (this.slots.length > 0 && this.slots[0]!.output && this.sinkAhead < this.maxInFlight && !this.destroyed) {
      const output = this.slots.shift()!.output!;
      this.sinkAhead++;
      sink.write(output, (err) => {
        this.sinkAhead--;
        if (err || this.destroyed) return; // the sink's 'error' ends writeTo
        if (output.buffer.byteLength === this.outputSize && this.spareOutputs.length < this.maxInFlight * 2) {
          this.spareOutputs.push(output.buffer as ArrayBuffer);
        }
        this.pump();
      });
    }
  }

  /** True when no digest is wanted or it is known; otherwise asks for it once and says false. */
  private digestReady(): boolean {
    if (!this.options.digestInput || this.digestResult) return true;
    if (this.mainHash) {
      this.digestResult = { digest: this.mainHash.digest(), size: this.mainHash.size };
      return true;
    }
    if (!this.digestRequested) {
      this.digestRequested = true;
      this.hashSession!.digest().then(
        (result) => { this.digestResult = result; this.pump(); },
        (err: Error) => this.destroy(err),
      );
    }
    return false;
  }

  /** Copies the pending write into blocks while there is room in flight. */
  private fill(): void {
    const p = this.pending!;
    const { blockSize } = this.options;
    while (p.offset < p.chunk.length) {
      if (!this.block) {
        if (this.slots.length >= this.maxInFlight) return; // pump() resumes when a block leaves
        this.block = this.shareBlocks ? new SharedArrayBuffer(blockSize) : this.spare.pop() ?? new ArrayBuffer(blockSize);
        this.filled = 0;
      }
      const n = Math.min(blockSize - this.filled, p.chunk.length - p.offset);
      new Uint8Array(this.block, this.filled, n).set(p.chunk.subarray(p.offset, p.offset + n));
      this.filled += n;
      p.offset += n;
      if (this.filled === blockSize) this.dispatch(false);
      if (this.destroyed) return;
    }
    this.pending = null;
    p.callback();
  }

  private dispatch(last: boolean): void {
    const { codec, level, threads } = this.options;
    const input = this.block ?? new ArrayBuffer(0);
    const length = this.filled;
    const slot: Slot = { output: null };
    this.slots.push(slot);
    const wanted = this.wanted.get(this.dispatched);
    this.wanted.delete(this.dispatched);
    this.block = null;
    this.filled = 0;
    this.dispatched++;
    // One core, or a layer that fits in one block: a worker would only add its start-up time.
    const inline = threads === 1 || (last && this.dispatched === 1);
    if (this.shareBlocks) {
      if (inline) {
        this.mainHash = new Digester();
        this.mainHash.update(new Uint8Array(input, 0, length));
      } else {
        (this.hashSession ??= hashWorker().open()).update(input as SharedArrayBuffer, length);
      }
    }
    // With a sink, the worker writes into a reused output buffer; a reader gets a new one each time.
    const output = this.sink ? this.spareOutputs.pop() ?? this.newOutput() : undefined;
    if (inline) {
      try {
        const encoded = (mainEncoder ??= new BlockEncoder()).encode(codec, level, new Uint8Array(input, 0, length), output && new Uint8Array(output));
        if (typeof encoded === 'number') slot.output = Buffer.from(output!, 0, encoded);
        else {
          slot.output = encoded;
          if (output) this.spareOutputs.push(output);
        }
      } catch (err) {
        this.destroy(err as Error);
        return;
      }
      if (wanted) deliver(wanted, digestRanges(new Uint8Array(input, 0, length), wanted.ranges));
      this.recycle(input);
      this.again = true;
      return;
    }
    compressionPool().submit({
      owner: this,
      codec,
      level,
      input,
      length,
      ...(output ? { output } : {}),
      ...(wanted ? { ranges: Uint32Array.from(wanted.ranges) } : {}),
      done: (err, output, returned, digests) => {
        if (this.destroyed) return;
        if (err) {
          this.destroy(err);
          return;
        }
        if (wanted) deliver(wanted, digests!);
        if (returned) this.recycle(returned);
        slot.output = output;
        this.pump();
      },
    }, threads);
  }

  private newOutput(): ArrayBuffer {
    this.outputBuffersAllocated++;
    return new ArrayBuffer(this.outputSize);
  }

  private recycle(buffer: BlockBuffer): void {
    if (buffer instanceof ArrayBuffer && buffer.byteLength === this.options.blockSize && this.spare.length < this.maxInFlight) {
      this.spare.push(buffer);
    }
  }
}

function deliver(wanted: WantedDigests, digests: Buffer): void {
  for (let i = 0; i < wanted.tokens.length; i++) wanted.receivers[i]!.digested(wanted.tokens[i]!, digests, i * RANGE_DIGEST_BYTES);
}
