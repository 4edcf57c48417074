import type { BlockCodec } from './block-codec.js';

/**
 * Main thread → worker: compress `input[0, length)`. An ArrayBuffer is transferred and handed
 * back; a SharedArrayBuffer (when the hash worker reads the same block) is shared.
 */
export interface JobMessage {
  id: number;
  codec: BlockCodec;
  level: number;
  input: BlockBuffer;
  length: number;
  /** Where to put the compressed bytes (transferred and handed back); without it the worker allocates. */
  output?: ArrayBuffer;
  /** `[offset, length]` pairs of the block whose SHA1 and SHA256 are wanted too (range-digests.ts). */
  ranges?: Uint32Array;
}

export type BlockBuffer = ArrayBuffer | SharedArrayBuffer;

/**
 * Worker → main thread: the compressed block, `output[0, length)` (the job's output buffer, or a
 * new one of exactly that size), and the digests of the job's ranges; or why it failed. Buffers
 * are transferred.
 */
export type ResultMessage =
  | { id: number; input: BlockBuffer; output: ArrayBuffer; length: number; digests?: ArrayBuffer }
  | { id: number; input: BlockBuffer; error: string };

/** Main thread → hash worker: blocks of one session in order, then a request for the digest. */
export type HashRequest =
  | { op: 'update'; session: number; data: SharedArrayBuffer; length: number }
  | { op: 'digest' | 'discard'; session: number };

export interface HashReply {
  session: number;
  hex: string;
  size: number;
}
