import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createCompressor, type CompressorOptions } from '../../../src/layer/compress/index.js';
import { compressBlock } from '../../../src/layer/compress/block-codec.js';

/** Deterministic incompressible bytes: the same generator as the layer tests' (one seed per input). */
export { pseudoRandom as randomBytes } from '../../assemble/support.js';

/** Deterministic text that compresses like source files and man pages do (about 3:1). */
export function textBytes(size: number): Buffer {
  const words = ['layer', 'image', 'digest', 'manifest', 'tar', 'gzip', 'the', 'of', 'and', 'blob', 'config', 'registry', 'push', 'build', 'rootfs', 'node'];
  const parts: string[] = [];
  let length = 0;
  let x = 12345;
  while (length < size) {
    x = (x * 1103515245 + 12345) >>> 0;
    const word = `${words[x % words.length]}${x % 7 === 0 ? `${x % 1000}` : ''}${x % 11 === 0 ? '\n' : ' '}`;
    parts.push(word);
    length += word.length;
  }
  return Buffer.from(parts.join('')).subarray(0, size);
}

/** Feeds `input` in chunks of `chunkSize` (odd sizes cross block edges) and collects the output. */
export async function compress(input: Buffer, options: CompressorOptions, chunkSize = 7919): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(chunked(input, chunkSize), createCompressor(options), async (source: AsyncIterable<Buffer>) => {
    for await (const c of source) out.push(c);
  });
  return Buffer.concat(out);
}

export function chunked(input: Buffer, chunkSize: number): Readable {
  return Readable.from((function* () {
    for (let at = 0; at < input.length; at += chunkSize) yield input.subarray(at, at + chunkSize);
  })(), { objectMode: false });
}

/** What the output must be: each block of the input compressed on its own, concatenated. */
export function expectedMembers(input: Buffer, level: number, blockSize: number): Buffer {
  const members: Buffer[] = [];
  for (let at = 0; at < input.length || at === 0; at += blockSize) {
    members.push(compressBlock('gzip', level, input.subarray(at, at + blockSize)));
    if (input.length === 0) break;
  }
  return Buffer.concat(members);
}
