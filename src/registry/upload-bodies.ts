import type { Readable } from 'node:stream';
import type { BlobBody } from '../content/blob-source.js';

/**
 * The bodies opened for one upload request (each attempt inside client.request, after a 401 or a
 * redirect, opens its own), closed once the request has settled: undici closes an iterable body
 * it stops reading on an error, but not one it never started or one cut short by an early answer,
 * and a file left open until garbage collection makes Node warn on stderr.
 */
export class OpenedBodies {
  private readonly opened: BlobBody[] = [];

  opener(open: () => Promise<BlobBody>, base: number, onProgress: ((bytes: number) => void) | undefined): () => Promise<AsyncIterable<Uint8Array>> {
    return async () => {
      const body = await open();
      this.opened.push(body);
      return counting(body, base, onProgress);
    };
  }

  /** After the answer: the registry has read what it wanted, or the request failed. */
  release(): void {
    for (const body of this.opened.splice(0)) {
      if (typeof (body as Readable).destroy === 'function') (body as Readable).destroy();
      else void (body as Partial<AsyncGenerator<Uint8Array>>).return?.(undefined).catch(() => {});
    }
  }
}

/**
 * The body as undici pulls it, reporting the absolute offset as each chunk goes out. A generator,
 * not a Transform: it passes on each chunk when asked for it and reads nothing ahead, so a source
 * that reuses its buffers (readFileChunks) keeps doing so.
 */
async function* counting(body: BlobBody, base: number, onProgress?: (bytes: number) => void): AsyncGenerator<Uint8Array, void, undefined> {
  let sent = base;
  for await (const chunk of body as AsyncIterable<Uint8Array>) {
    sent += chunk.length;
    onProgress?.(sent);
    yield chunk;
  }
}
