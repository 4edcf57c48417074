import { constants, open } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { promisify } from 'node:util';
import { Socket } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { OcipushError, fromSystemError } from '../errors.js';

/**
 * The Dockerfile's text. A regular file is read as usual. A pipe (a FIFO, or `-f <(…)`) is opened
 * non-blocking and read through the event loop: a blocking open or read of a FIFO with no writer
 * holds a thread of Node's pool forever, and then not even SIGTERM ends the process (exiting
 * waits for that thread). Read this way it waits for a writer like `cat` would, and a signal
 * still ends it at once. Anything else (a directory, a device) is refused.
 */
export async function readDockerfileText(given: string, filename: string): Promise<string> {
  const path = await lowercaseFallback(given);
  const st = await stat(path).catch((err) => { throw fromSystemError(err, filename, 'cannot read Dockerfile'); });
  if (st.isFile()) return readFile(path, 'utf8').catch((err) => { throw fromSystemError(err, filename, 'cannot read Dockerfile'); });
  if (st.isDirectory()) {
    // `build -f .`: -f names the file, the positional argument the context.
    const inside = (await stat(join(path, 'Dockerfile')).catch(() => undefined))?.isFile();
    const hint = inside ? `-f names the Dockerfile: ocipush build -f ${join(filename, 'Dockerfile')} ${filename}` : '-f names the Dockerfile, the argument after the flags the context';
    throw new OcipushError('EUSAGE', `cannot read Dockerfile ${filename}: a directory (${hint})`, { path });
  }
  if (!st.isFIFO() && !st.isSocket()) {
    throw new OcipushError('EUSAGE', `cannot read Dockerfile ${filename}: not a regular file or a pipe`, { path });
  }
  // A plain descriptor, not a FileHandle: the socket owns it and closes it.
  const fd = await promisify(open)(path, constants.O_RDONLY | constants.O_NONBLOCK).catch((err: unknown) => { throw fromSystemError(err, filename, 'cannot read Dockerfile'); });
  const pipe = new Socket({ fd, readable: true, writable: false });
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of pipe) chunks.push(chunk as Buffer);
  } catch (err) {
    throw fromSystemError(err, filename, 'cannot read Dockerfile');
  } finally {
    pipe.destroy();
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * BuildKit reads `dockerfile` when a `Dockerfile` it was asked for is not there (moby/moby#10858:
 * `docker build .` in a directory holding `dockerfile`), so `-f Dockerfile` finds it too.
 */
async function lowercaseFallback(path: string): Promise<string> {
  if (basename(path) !== 'Dockerfile') return path;
  const missing = (p: string) => stat(p).then(() => false, (err: NodeJS.ErrnoException) => err.code === 'ENOENT');
  if (!(await missing(path))) return path;
  const lower = join(dirname(path), 'dockerfile');
  return (await missing(lower)) ? path : lower;
}
