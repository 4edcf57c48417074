import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { posix } from 'node:path';
import { Readable } from 'node:stream';
import { OcipushError, fromSystemError } from '../errors.js';
import { headerChecksumHolds, headerField, headerNumber, paxRecords, untilNul, ustarName } from '../layer/tar-fields.js';
import { BLOCK } from '../layer/tar-header.js';
import { HEAD_BYTES, isCompressed, spoolArchive } from './spool.js';

/** Where a file's bytes are inside a tar archive. */
export interface TarMember {
  path: string;
  offset: number;
  size: number;
}

/** A header naming more than this is not an archive ocipush wrote or docker saved (pax records are small). */
const MAX_EXTENDED_HEADER = 1024 * 1024;

/**
 * The regular files of an uncompressed tar file and where their bytes are, read from the headers
 * alone (the data is skipped, never read): an archive of any size is indexed in one pass over its
 * headers, and a member is then read straight from the file by offset. Symbolic links between
 * members (docker save links repeated layers) resolve to their target. Understands ustar, pax
 * extended headers (path, size) and GNU long names, which is what docker, podman, skopeo and
 * ocipush write. An archive that cannot be read by offset where it is (a pipe, a gzip-compressed
 * tar) is first copied into a temp file (`spool.ts`).
 */
export class TarIndex {
  /**
   * `file` is the archive as the user named it (in messages); `spooled`, when set, holds its
   * bytes instead: a pipe or a gzip-compressed archive copied into an unlinked temp file.
   */
  private constructor(readonly file: string, private readonly members: Map<string, TarMember>, private readonly end: { complete: boolean; size: number }, private readonly spooled?: FileHandle) {}

  static async open(file: string): Promise<TarIndex> {
    // `-` is stdin (`docker save app | ocipush copy docker-archive:- …`), as `-o -` is stdout (a file named - is ./-).
    if (file === '-') file = '/dev/stdin';
    let handle: FileHandle;
    try {
      handle = await open(file, 'r');
    } catch (err) {
      throw fromSystemError(err, file, 'cannot open the archive');
    }
    let spooled: FileHandle | undefined;
    try {
      const stats = await handle.stat();
      if (stats.isDirectory()) throw new OcipushError('EUSAGE', `${file}: is a directory, not an archive file (an OCI layout directory is oci:DIR)`);
      const start = stats.isFile() ? await head(handle, stats.size) : undefined;
      if (!start || isCompressed(start)) spooled = await spoolArchive(handle, file);
      const { members, complete, size } = await scan(spooled ?? handle, file);
      return new TarIndex(file, members, { complete, size }, spooled);
    } catch (err) {
      await spooled?.close().catch(() => {});
      throw err;
    } finally {
      await handle.close();
    }
  }

  /** The member at `path` (`./` prefixes and links resolved), or undefined. */
  get(path: string): TarMember | undefined {
    return this.members.get(normal(path));
  }

  /**
   * What to add to "the archive has no X": docker, podman, skopeo and ocipush all end an archive
   * with tar's end-of-archive blocks, so one that stops without them was cut short (a copy or a
   * download that did not finish), which is the likelier cause than a wrong archive.
   */
  truncation(): string {
    return this.end.complete ? '' : `; it stops at byte ${this.end.size} without tar's end-of-archive blocks: truncated`;
  }

  /**
   * What to add to "the archive has no NAME" when it is there one directory down (`D/NAME`, in one
   * top directory D): the archive was made of the directory (`tar -cf FILE D`), where docker,
   * podman and skopeo want its contents at the top (`tar -C D -cf FILE .`).
   */
  nesting(...names: string[]): string {
    const tops = new Set(this.paths().map((path) => path.split('/')[0]!));
    if (tops.size !== 1) return '';
    const [top] = tops;
    if (!names.every((name) => this.members.has(`${top}/${name}`))) return '';
    return `; it holds ${top}/${names.join(` and ${top}/`)}: it was made of the directory ${top}, not of what is in it (tar -C ${top} -cf FILE .)`;
  }

  paths(): string[] {
    return [...this.members.keys()];
  }

  /** The member's bytes, streamed from the archive (`start`/`end` inclusive, relative to the member). */
  read(member: TarMember, start = 0, end = member.size - 1): Readable {
    if (member.size === 0 || end < start) return Readable.from([]);
    const range = { start: member.offset + start, end: member.offset + end };
    if (this.spooled) return createReadStream('', { fd: this.spooled.fd, autoClose: false, ...range });
    return createReadStream(this.file, range);
  }

  /** Lets go of a spooled copy (its bytes vanish with it). */
  async close(): Promise<void> {
    await this.spooled?.close().catch(() => {});
  }
}

/** The first bytes of a regular file (what tells a compressed archive from a tar). */
async function head(handle: FileHandle, size: number): Promise<Buffer> {
  const bytes = Buffer.alloc(Math.min(HEAD_BYTES, size));
  if (bytes.length > 0) await handle.read(bytes, 0, bytes.length, 0);
  return bytes;
}

function normal(path: string): string {
  return posix.normalize(path.replace(/^\.?\/+/, '')).replace(/\/+$/, '');
}

async function scan(handle: FileHandle, file: string): Promise<{ members: Map<string, TarMember>; complete: boolean; size: number }> {
  const members = new Map<string, TarMember>();
  const links = new Map<string, string>();
  const { size: fileSize } = await handle.stat();
  const header = Buffer.alloc(BLOCK);
  let position = 0;
  let longName: string | undefined;
  let pax = new Map<string, Buffer>();
  const bad = (why: string) => new OcipushError('EINVALID', `${file}: not a readable tar archive (${why})`);
  // A file too short for one header (an empty file, a word of text) is no tar cut short.
  let complete = fileSize < BLOCK;
  while (position + BLOCK <= fileSize) {
    await readExactly(handle, header, position, bad);
    if (header.every((b) => b === 0)) {
      complete = true;
      break;
    }
    if (!headerChecksumHolds(header)) throw bad(`bad header checksum at byte ${position}`);
    const type = String.fromCharCode(header[156]!) || '0';
    const paxSize = pax.get('size');
    const size = paxSize !== undefined ? Number(paxSize.toString('latin1')) : headerNumber(header, 124, 12);
    if (!Number.isSafeInteger(size) || size < 0) throw bad(`bad size at byte ${position}`);
    const dataStart = position + BLOCK;
    position = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    if (type === 'x' || type === 'L' || type === 'g') {
      if (size > MAX_EXTENDED_HEADER) throw bad('extended header too large');
      const data = Buffer.alloc(size);
      await readExactly(handle, data, dataStart, bad);
      if (type === 'x') pax = paxRecords(data);
      else if (type === 'L') longName = untilNul(data).toString('utf8');
      continue;
    }
    const name = pax.get('path')?.toString('utf8') ?? longName ?? ustarName(header).toString('utf8');
    const linkName = (pax.get('linkpath') ?? headerField(header, 157, 100)).toString('utf8');
    pax = new Map();
    longName = undefined;
    if (dataStart + size > fileSize) throw bad(`${name} runs past the end of the file`);
    const path = normal(name);
    if (type === '0' || type === '\0' || type === '7') members.set(path, { path, offset: dataStart, size });
    else if (type === '2') links.set(path, normal(posix.join(posix.dirname(path), linkName)));
    else if (type === '1') links.set(path, normal(linkName));
  }
  for (const [path, target] of links) {
    let resolved = target;
    for (let hops = 0; hops < 8 && !members.has(resolved) && links.has(resolved); hops++) resolved = links.get(resolved)!;
    const member = members.get(resolved);
    if (member) members.set(path, { ...member, path });
  }
  return { members, complete, size: fileSize };
}

async function readExactly(handle: FileHandle, buffer: Buffer, position: number, bad: (why: string) => OcipushError): Promise<void> {
  let done = 0;
  while (done < buffer.length) {
    const { bytesRead } = await handle.read(buffer, done, buffer.length - done, position + done);
    if (bytesRead === 0) throw bad(`it ends inside a header, at byte ${position + done}: truncated`);
    done += bytesRead;
  }
}
