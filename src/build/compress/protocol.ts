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
}

export type BlockBuffer = ArrayBuffer | SharedArrayBuffer;

/** Worker → main thread: the compressed block (exactly sized, transferred) or why it failed. */
export type ResultMessage =
  | { id: number; input: BlockBuffer; output: ArrayBuffer }
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
