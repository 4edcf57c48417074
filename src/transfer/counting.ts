import { Readable } from 'node:stream';

/**
 * The stream, reporting the bytes read so far. Pull-based: nothing is read before the destination
 * reads, so a failure of the source (wrong bytes of a small blob) reaches the destination's
 * handlers, never an unhandled 'error' event while the destination is still getting ready.
 */
export function counting(stream: Readable, onProgress: (bytes: number) => void): Readable {
  async function* counted(): AsyncGenerator<Buffer> {
    let seen = 0;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      seen += chunk.length;
      onProgress(seen);
      yield chunk;
    }
  }
  return Readable.from(counted(), { objectMode: false });
}
