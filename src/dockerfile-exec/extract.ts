import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { join } from 'node:path';
import { fromWriteError, OcipushError } from '../errors.js';
import { trackTemp } from '../content/cleanup.js';
import { readTar } from './archive.js';
import type { ArchiveRef } from './tree.js';

/**
 * Files a layer needs from inside archives (a base image's layers for COPY --from, a local
 * archive ADD unpacks) or from the Dockerfile (a COPY heredoc's body), written out once to a
 * private temp directory beside the layout, so the layer writer reads them like any file on
 * disk. Each archive is read in one pass.
 */
export class ArchiveFiles {
  private dir: string | undefined;
  private untrack: (() => void) | undefined;
  private counter = 0;
  /** archive → entry → the temp file its bytes went to. */
  private readonly wanted = new Map<ArchiveRef, Map<number, string>>();
  /** bytes → the temp file they go to. */
  private readonly data = new Map<Buffer, string>();

  constructor(private readonly parent: string) {}

  /** The temp path entry `entry` of `archive` will be written to by `extractAll`. */
  want(archive: ArchiveRef, entry: number): string {
    let entries = this.wanted.get(archive);
    if (!entries) this.wanted.set(archive, (entries = new Map()));
    let path = entries.get(entry);
    if (!path) entries.set(entry, (path = `${++this.counter}`));
    return path;
  }

  /** The temp path `data` will be written to by `extractAll`. */
  wantData(data: Buffer): string {
    let path = this.data.get(data);
    if (!path) this.data.set(data, (path = `${++this.counter}`));
    return path;
  }

  /** The absolute temp path for a name handed out by `want` (valid once `extractAll` ran). */
  resolve(name: string): string {
    return join(this.dir!, name);
  }

  get pending(): boolean {
    return this.wanted.size > 0 || this.data.size > 0;
  }

  async extractAll(): Promise<void> {
    if (!this.pending) return;
    this.dir = await mkdtemp(join(this.parent, '.ocipush-files-')).catch((err) => { throw fromWriteError(err, this.parent, 'cannot write to'); });
    this.untrack = trackTemp(this.dir);
    for (const [data, name] of this.data) {
      const path = this.resolve(name);
      await writeFile(path, data, { flag: 'wx', mode: 0o600 }).catch((err) => { throw fromWriteError(err, path, 'cannot write'); });
    }
    for (const [archive, entries] of this.wanted) {
      const left = new Set(entries.keys());
      await readTar(await archive.open(), archive.describe, async (entry, body) => {
        const name = entries.get(entry.index);
        if (name === undefined) return;
        left.delete(entry.index);
        await writeBody(body, this.resolve(name));
      });
      if (left.size > 0) throw new OcipushError('EREAD', `${archive.describe}: changed while the build read it (${left.size} entries missing)`);
    }
  }

  async cleanup(): Promise<void> {
    if (this.dir) await rm(this.dir, { recursive: true, force: true }).catch(() => {});
    this.untrack?.();
    this.dir = undefined;
  }
}

async function writeBody(body: AsyncIterable<Buffer>, path: string): Promise<void> {
  const out = createWriteStream(path, { flags: 'wx', mode: 0o600 });
  const failed = once(out, 'error').then(([err]) => { throw fromWriteError(err, path, 'cannot write'); });
  failed.catch(() => {});
  for await (const chunk of body) {
    if (!out.write(chunk)) await Promise.race([once(out, 'drain'), failed]);
  }
  out.end();
  await Promise.race([once(out, 'finish'), failed]);
  await new Promise<void>((resolve) => out.close(() => resolve()));
}
