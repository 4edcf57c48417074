import { parentPort } from 'node:worker_threads';
import { BlockEncoder } from './block-encoder.js';
import type { JobMessage, ResultMessage } from './protocol.js';
import { digestRanges } from './range-digests.js';

/** A compression worker: one block in, one gzip member (or zstd frame) out, in arrival order. */
const port = parentPort;
if (!port) throw new Error('compress/worker.js runs only as a worker thread');

/** One zlib state and scratch buffer for the worker's life: no allocation per block. */
const encoder = new BlockEncoder();

port.on('message', (job: JobMessage) => {
  let result: ResultMessage;
  const transfer: ArrayBuffer[] = job.input instanceof ArrayBuffer ? [job.input] : [];
  try {
    const out = job.output ? new Uint8Array(job.output) : undefined;
    const block = new Uint8Array(job.input, 0, job.length);
    const encoded = encoder.encode(job.codec, job.level, block, out);
    const output = typeof encoded === 'number' ? job.output! : ownBuffer(encoded);
    result = { id: job.id, input: job.input, output, length: typeof encoded === 'number' ? encoded : encoded.length };
    transfer.push(output);
    if (job.ranges) {
      // Hashed while the block is still in this core's cache from compressing it.
      const digests = digestRanges(block, job.ranges).buffer as ArrayBuffer;
      result.digests = digests;
      transfer.push(digests);
    }
  } catch (err) {
    result = { id: job.id, input: job.input, error: (err as Error)?.message ?? String(err) };
  }
  port.postMessage(result, transfer);
});

/** An ArrayBuffer holding exactly these bytes, safe to transfer (never a slice of a shared pool). */
function ownBuffer(bytes: Uint8Array): ArrayBuffer {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer) return bytes.buffer;
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return copy.buffer;
}
