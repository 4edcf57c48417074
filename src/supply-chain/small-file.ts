import { createReadStream } from 'node:fs';

/**
 * The bytes of a file that is small by nature (a key, a signature, a bundle), or undefined when
 * it holds more than `max`: counted as they come, since a pipe (`<(…)`, /dev/stdin) has no size
 * to check first (stat says 0), and never read past `max`, so a large file given in its place
 * by mistake (the file to sign) is not read whole.
 */
export async function readUpTo(path: string, max: number): Promise<Buffer | undefined> {
  return readStreamUpTo(createReadStream(path, { highWaterMark: 16 * 1024 }), max);
}

/** What `input` holds, or undefined as soon as it has given more than `max` (the rest never read). */
export async function readStreamUpTo(input: AsyncIterable<Buffer | string>, max: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of input) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    total += bytes.length;
    if (total > max) return undefined;
    chunks.push(bytes);
  }
  return Buffer.concat(chunks);
}
