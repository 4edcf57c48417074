import type { BlockCodec } from './block-codec.js';

/** Main thread → worker: compress `input[0, length)`. `input` is transferred, and handed back. */
export interface JobMessage {
  id: number;
  codec: BlockCodec;
  level: number;
  input: ArrayBuffer;
  length: number;
}

/** Worker → main thread: the compressed block (exactly sized, transferred) or why it failed. */
export type ResultMessage =
  | { id: number; input: ArrayBuffer; output: ArrayBuffer }
  | { id: number; input: ArrayBuffer; error: string };
