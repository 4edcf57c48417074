import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import type { Writable } from 'node:stream';
import type tar from 'tar-stream';
import { OcipushError, systemReason } from '../errors.js';

/**
 * Entries written into a tar-stream pack, for the archives ocipush writes (docker-archive,
 * oci-archive). Kept apart from the archive formats, whose types the package exports: a published
 * declaration that names tar-stream would hand its users whichever tar-stream types their install
 * resolves (3.3 ships its own, with no default export), and a CommonJS project compiled without
 * esModuleInterop would fail on it.
 */

/** The fixed time every entry carries, so the same images give the same archive bytes. */
const ENTRY_TIME = new Date(0);

/**
 * Moves the tar stream into the destination with backpressure. Written by hand rather than with
 * stream.pipeline: tar-stream's pack is a streamx stream, and pipeline never settles when a Node
 * destination fails under it (a full disk would hang the export instead of reporting it).
 */
export async function copyInto(pack: tar.Pack, destination: Writable): Promise<void> {
  const failed = new Promise<never>((_, fail) => destination.once('error', fail));
  failed.catch(() => {});
  try {
    for await (const chunk of pack as AsyncIterable<Buffer>) {
      if (!destination.write(chunk)) await Promise.race([once(destination, 'drain'), failed]);
    }
    destination.end();
    await Promise.race([finished(destination), failed]);
  } catch (err) {
    pack.destroy(err as Error);
    throw err;
  }
}

function header(name: string, size: number): Partial<tar.Header> & { name: string } {
  return { name, size, mode: 0o644, uid: 0, gid: 0, mtime: ENTRY_TIME, type: 'file' };
}

export function addDirectory(pack: tar.Pack, name: string): Promise<void> {
  return new Promise((ok, fail) => {
    quiet(pack.entry({ name, mode: 0o755, uid: 0, gid: 0, mtime: ENTRY_TIME, type: 'directory' }, (err) => (err ? fail(err) : ok())));
  });
}

export function addBuffer(pack: tar.Pack, name: string, bytes: Buffer): Promise<void> {
  return new Promise((ok, fail) => {
    quiet(pack.entry(header(name, bytes.length), bytes, (err) => (err ? fail(err) : ok())));
  });
}

/**
 * Copies a stream into one entry, with backpressure. A failure of the source (a bad blob) fails
 * the entry and is reported as a read error; a failure of the entry (the destination broke and
 * took the pack down) is passed on as it is, so the caller reports the destination's cause.
 */
export async function addStream(pack: tar.Pack, name: string, size: number, source: AsyncIterable<Buffer>, what: string): Promise<void> {
  let settle: (err?: Error | null) => void = () => {};
  const written = new Promise<void>((ok, fail) => { settle = (err) => (err ? fail(err) : ok()); });
  written.catch(() => {});
  const entry = quiet(pack.entry(header(name, size), (err) => settle(err)));
  const chunks = source[Symbol.asyncIterator]();
  try {
    for (;;) {
      let next: IteratorResult<Buffer>;
      try {
        next = await chunks.next();
      } catch (err) {
        const cause = err instanceof OcipushError ? err : new OcipushError('EREAD', `cannot read ${what}: ${systemReason(err as NodeJS.ErrnoException)}`, { cause: err });
        entry.destroy(cause);
        throw cause;
      }
      if (next.done) break;
      // `written` settles with the error if the pack was destroyed meanwhile (its 'error' and
      // 'close' events may already be past), so a failed destination never leaves this waiting.
      if (!entry.write(next.value)) await Promise.race([waitForDrain(entry), written]);
    }
  } catch (err) {
    await chunks.return?.();
    throw err;
  }
  entry.end(null);
  await written;
}

type TarEntry = ReturnType<tar.Pack['entry']>;

/**
 * An entry fails when the pack does (a full disk destroys both); its callback already carries the
 * error, so the entry's own 'error' event must not crash the process as an unhandled one.
 */
function quiet(entry: TarEntry): TarEntry {
  entry.on('error', () => {});
  return entry;
}

function waitForDrain(entry: TarEntry): Promise<void> {
  return new Promise((ok, fail) => {
    const cleanup = () => { entry.off('drain', onDrain); entry.off('error', onError); entry.off('close', onClose); };
    const onDrain = () => { cleanup(); ok(); };
    const onError = (err: Error) => { cleanup(); fail(err); };
    const onClose = () => { cleanup(); fail(new Error('tar entry closed before it was written')); };
    entry.once('drain', onDrain);
    entry.once('error', onError);
    entry.once('close', onClose);
  });
}
