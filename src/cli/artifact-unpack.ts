import { closeSync, futimesSync, linkSync, lstatSync, lutimesSync, mkdirSync, openSync, readlinkSync, renameSync, rmSync, symlinkSync, unlinkSync, writeSync } from 'node:fs';
import { lstat, mkdir, readdir, rename, rm, utimes } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { posix, join } from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { OcipushError } from '../errors.js';
import { Digester } from '../oci/digest.js';
import { onSignalExit, trackTemp } from '../content/cleanup.js';
import { keepAlive, tempWriterGone } from '../content/liveness.js';
import { TarReader } from '../layer/tar-reader.js';
import { headerNumber } from '../layer/tar-fields.js';
import type { ContentSink, ObservedEntry } from '../layer/tar.js';

/** oras push of a directory: its layer is a tar+gzip of it, to be unpacked under its title by oras pull. */
export const UNPACK_ANNOTATION = 'io.deis.oras.content.unpack';
/** The digest of that tar before compression, which oras pull checks. */
export const TAR_DIGEST_ANNOTATION = 'io.deis.oras.content.digest';

/**
 * Unpacks a directory `oras push REF DIR` packed (a gzip of a tar whose entries are under
 * `title/`) as `outputDir/title`, as oras pull does: into a temp directory beside it, renamed into
 * place once every entry is out and the tar's digest holds, so a failure leaves nothing half
 * written. Nothing goes outside it: an entry not under `title/`, or one that goes through a
 * symlink, or a link whose target leaves the directory, stops it (oras refuses them too). Each
 * entry keeps the mtime its header gives, as oras pull keeps a file's (a directory's is set once
 * everything is in it, as GNU tar sets it, where oras's is lost to the files written after it).
 */
export async function unpackDirectory(stream: Readable, title: string, outputDir: string, tarDigest: string | undefined, what: string): Promise<void> {
  // Beside where it goes (a title dir/sub goes in outputDir/dir), so the last rename stays on one filesystem.
  const temp = join(outputDir, posix.dirname(title), `.${posix.basename(title)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  const final = join(outputDir, title);
  await clearKilledUnpacks(final);
  const untrack = trackTemp(temp);
  let stopBeating = () => {};
  let keepOld = () => {};
  try {
    await mkdir(temp);
    stopBeating = keepAlive(temp);
    const digester = new Digester();
    const links = new Set<string>();
    const directoryTimes = new Map<string, number>();
    const reader = new TarReader({
      entry: (entry, header, pax) => extract(temp, title, entry, mtimeOf(header!, pax), what, links, directoryTimes),
      end: () => {},
    });
    await pipeline(stream, createGunzip(), new Writable({
      write(chunk: Buffer, _encoding, done) {
        try {
          digester.update(chunk);
          reader.write(chunk);
          done();
        } catch (err) { done(err as Error); }
      },
      final(done) {
        try { reader.end(); done(); } catch (err) { done(err as Error); }
      },
    }));
    for (const link of links) {
      if (!staysInside(link, title, links, temp)) throw refused(what, `the symlink ${JSON.stringify(link)} points outside it through other links`);
    }
    const digest = digester.digest();
    if (tarDigest !== undefined && digest !== tarDigest) {
      throw new OcipushError('EDIGEST', `${what}: the directory's tar is ${digest}, not the ${tarDigest} its ${TAR_DIGEST_ANNOTATION} says; nothing written`);
    }
    const root = join(temp, title);
    await mkdir(root, { recursive: true });
    // A directory already there is replaced whole, as a file of that name is: what is left is the artifact's.
    const old = `${temp}.old`;
    const replaced = await rename(final, old).then(() => true, (err: NodeJS.ErrnoException) => { if (err.code === 'ENOENT') return false; throw err; });
    // Ctrl-C between the two renames would leave neither the old directory nor the new under the name: the old goes back.
    if (replaced) {
      keepOld = onSignalExit(() => {
        try { renameSync(old, final); } catch { rmSync(old, { recursive: true, force: true }); /* the new one is in place */ }
      });
    }
    try {
      await rename(root, final);
    } catch (err) {
      if (replaced) await rename(old, final);
      throw err;
    }
    if (replaced) await rm(old, { recursive: true, force: true });
    // After the rename, which may touch the moved directory's own time; a child's time is its own, so any order holds.
    for (const [rel, mtime] of directoryTimes) await utimes(join(outputDir, rel), mtime, mtime).catch(() => {});
  } catch (err) {
    if (err instanceof OcipushError) throw err;
    throw new OcipushError('EINVALID', `${what}: cannot unpack the directory ${JSON.stringify(title)}: ${(err as Error).message}; nothing written`);
  } finally {
    keepOld();
    stopBeating();
    await rm(temp, { recursive: true, force: true });
    untrack();
  }
}

/**
 * Clears what unpacks into `final` killed with SIGKILL left beside it (an OOM kill, a CI job's
 * timeout): their temp directories (`.NAME.tmp-PID-HEX`, each writer's heartbeat), and the old
 * directory one had moved aside (`….old`), which goes back under the name when one was killed
 * between its two renames and nothing took the name since, else away. A writer still at work
 * (its PID here, or a heartbeat in the last 30 s) is left alone.
 */
export async function clearKilledUnpacks(final: string): Promise<void> {
  const dir = join(final, '..');
  const prefix = `.${posix.basename(final)}.tmp-`;
  // Old directories first, while their writers' temp directories are there to judge them by.
  const names = (await readdir(dir).catch(() => [] as string[])).sort((a, b) => Number(b.endsWith('.old')) - Number(a.endsWith('.old')));
  for (const name of names) {
    const m = name.startsWith(prefix) ? /^(\d+)-[0-9a-f]+(\.old)?$/.exec(name.slice(prefix.length)) : null;
    if (!m) continue;
    const writer = name.replace(/\.old$/, '');
    // An old directory is judged by its writer's heartbeat; its own mtime is the user's directory's.
    const beat = await lstat(join(dir, writer)).catch(() => lstat(join(dir, name))).catch(() => undefined);
    if (!beat?.isDirectory() || !tempWriterGone(Number(m[1]), beat.mtimeMs)) continue;
    if (m[2] !== undefined && !(await lstat(final).then(() => true, () => false))) await rename(join(dir, name), final).catch(() => {});
    else await rm(join(dir, name), { recursive: true, force: true }).catch(() => {});
  }
}

/** An entry's mtime in seconds: its pax record (fractions and all), else the header's field (GNU base-256 before 1970). */
function mtimeOf(header: Buffer, pax: Map<string, Buffer> | undefined): number {
  const record = pax?.get('mtime');
  const seconds = record ? Number(record.toString('latin1')) : headerNumber(header, 136, 12);
  return Number.isFinite(seconds) ? seconds : 0;
}

/** A time the file system refuses (year 1, which a Go zero time is) is passed over, as oras pull passes it over. */
function keepTime(set: () => void): void {
  try { set(); } catch { /* the entry stays, its time now */ }
}

/** One tar entry written under `temp`, its path checked first; a file's bytes go straight to disk, a directory's time is left for the end. */
function extract(
  temp: string, title: string, entry: ObservedEntry, mtime: number, what: string, links: Set<string>, directoryTimes: Map<string, number>,
): ContentSink | undefined {
  const rel = inside(entry.name.toString('utf8'), title, what);
  if (rel === title && entry.type !== 'dir') throw refused(what, `its top entry ${JSON.stringify(title)} is no directory`);
  const path = join(temp, rel);
  for (let dir = posix.dirname(rel); dir !== '.'; dir = posix.dirname(dir)) {
    if (links.has(dir)) throw refused(what, `the entry ${JSON.stringify(rel)} goes through the symlink ${JSON.stringify(dir)}`);
  }
  mkdirSync(join(temp, posix.dirname(rel)), { recursive: true });
  // An entry again at a path an earlier one made a symlink replaces the link, never writes through it.
  if (links.delete(rel)) unlinkSync(path);
  switch (entry.type) {
    case 'dir':
      mkdirSync(path, { recursive: true, mode: (entry.mode & 0o777) | 0o700 });
      directoryTimes.set(rel, mtime);
      return undefined;
    case 'file': {
      const fd = openSync(path, 'w', entry.mode & 0o777);
      return {
        update: (bytes) => { writeSync(fd, bytes); },
        end: () => {
          keepTime(() => futimesSync(fd, mtime, mtime));
          closeSync(fd);
        },
      };
    }
    case 'symlink': {
      const target = entry.linkname?.toString('utf8') ?? '';
      const resolved = posix.normalize(posix.join(posix.dirname(rel), target));
      // Inside the directory itself, as oras pull holds a link to it: the rest of -o DIR is not the artifact's.
      if (target.startsWith('/') || (resolved !== title && !resolved.startsWith(`${title}/`))) throw refused(what, `the symlink ${JSON.stringify(rel)} points outside it (${target})`);
      symlinkSync(target, path);
      keepTime(() => lutimesSync(path, mtime, mtime));
      links.add(rel);
      return undefined;
    }
    case 'hardlink': {
      // A hard link names another entry of the archive, by its archive path.
      const target = inside(entry.linkname?.toString('utf8') ?? '', title, what);
      if ([...links].some((l) => target === l || target.startsWith(`${l}/`)) || !lstatSync(join(temp, target)).isFile()) throw refused(what, `the hard link ${JSON.stringify(rel)} names no file of it (${target})`);
      linkSync(join(temp, target), path);
      return undefined;
    }
    default:
      // Devices and fifos are no content (oras passes over them too).
      return undefined;
  }
}

/**
 * Whether the symlink `link` leads inside `title` when every symlink of the tree on its way is
 * followed (each one's own target was checked alone, which `a -> x/..` with `x -> ..` fools).
 * Every link on the way is one this unpack made, so its target is read from the temp tree.
 */
function staysInside(link: string, title: string, links: ReadonlySet<string>, temp: string): boolean {
  const stack = posix.dirname(link).split('/');
  const todo = readlinkSync(join(temp, link)).split('/').reverse();
  for (let hops = 0; todo.length > 0;) {
    const part = todo.pop()!;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (stack.pop() === undefined) return false;
      continue;
    }
    stack.push(part);
    const at = stack.join('/');
    if (!links.has(at)) continue;
    if (++hops > 40) return false;
    const target = readlinkSync(join(temp, at));
    if (target.startsWith('/')) return false;
    stack.pop();
    todo.push(...target.split('/').reverse());
  }
  return stack[0] === title;
}

/**
 * The path of an archive entry under `title/`, cleaned, as a path relative to the temp directory;
 * anything else is refused. As oras pull: a `..` that stays under `title/` (`site/a/../b`) is
 * cleaned away, since what is written is the cleaned path, never one through a link.
 */
function inside(name: string, title: string, what: string): string {
  if (name.includes('\0')) throw refused(what, `the entry ${JSON.stringify(name)} leaves it`);
  const clean = posix.normalize(name.replace(/\/+$/, '') || '.');
  if (clean !== title && !clean.startsWith(`${title}/`)) {
    throw refused(what, name.split('/').includes('..') || name.startsWith('/') ? `the entry ${JSON.stringify(name)} leaves it` : `the entry ${JSON.stringify(name)} is not under ${JSON.stringify(`${title}/`)}`);
  }
  return clean;
}

function refused(what: string, why: string): OcipushError {
  return new OcipushError('EINVALID', `${what}: refusing to unpack: ${why}; nothing written`);
}
