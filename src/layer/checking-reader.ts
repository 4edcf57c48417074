import { OcipushError } from '../errors.js';
import type { ObservedEntry, TarObserver } from './tar.js';
import { TarReader } from './tar-reader.js';
import { climbsOut, EMPTY_WHITEOUT, emptyWhiteout } from './tar-paths.js';

/**
 * A tar holding pax global headers (`g`), which umoci refuses: the layer is written again
 * without them (global-headers.ts).
 */
export class GlobalHeaders extends Error {}

/** GNU tar's own entry types, by the option that writes them. */
const GNU_TYPES: Record<number, string> = {
  0x56: 'a volume label, GNU tar --label', // 'V'
  0x44: 'a directory listing, GNU tar --listed-incremental', // 'D'
  0x4d: 'a file continued from another volume, GNU tar --multi-volume', // 'M'
  0x4e: 'the long names of old GNU tars', // 'N'
};

const CONTIGUOUS = 0x37; // '7'

const NO_OBSERVER: TarObserver = { entry: () => undefined, end: () => {} };

/**
 * A TarReader over a tar file's bytes that never throws from inside the pipeline (a stream's
 * callback): the first problem is kept, and `end` names it once every byte has gone through.
 */
export class CheckingReader {
  private readonly reader: TarReader;
  private failure: Error | undefined;
  private globalHeaders = false;
  /** Top-level names that together make the tar an image archive (see imageArchive). */
  private readonly archiveNames = new Set<string>();

  constructor(private readonly path: string, observer: TarObserver | undefined) {
    const inner = observer ?? NO_OBSERVER;
    this.reader = new TarReader({
      entry: (entry, header, pax) => {
        this.refuseClimbing(entry);
        // '7' (contiguous) is read as a file by the tar readers here, not by unpackers of layers.
        if (entry.type === 'other' || header?.[156] === CONTIGUOUS) this.refuseType(entry, header?.[156] ?? 0);
        this.refuseEmptyWhiteout(entry.name);
        this.noteArchiveName(entry.name);
        return inner.entry(entry, header, pax);
      },
      end: () => inner.end(),
    }, () => { this.globalHeaders = true; });
  }

  /**
   * A tar file is stored as it is, so what it names is what every unpacker of the image is
   * given: a path or hard link climbing out of the root with `..` is an archive made to write
   * outside the directory it is unpacked in (GNU tar refuses such an entry), never a layer.
   */
  private refuseClimbing(entry: ObservedEntry): void {
    const name = JSON.stringify(entry.name.toString());
    const what = climbsOut(entry.name) ? `entry ${name}`
      : entry.type === 'hardlink' && entry.linkname && climbsOut(entry.linkname) ? `hard link ${name} to ${JSON.stringify(entry.linkname.toString())}`
        : undefined;
    if (what === undefined) return;
    throw new OcipushError('EROOTFS', `rootfs ${this.path}: ${what} climbs out of the image's root with ..: unpacked, the tar would write outside its directory; not a layer`, { path: this.path });
  }

  /**
   * A type no unpacker of layers takes: containerd and Docker fail on it ("unhandled tar header
   * type"), umoci too ("unknown typeflag"). GNU tar writes the common ones on request.
   */
  private refuseType(entry: ObservedEntry, flag: number): never {
    const what = GNU_TYPES[flag];
    const contiguous = flag === CONTIGUOUS ? ' (a contiguous file, which no Linux file system has)' : '';
    const type = flag >= 0x20 && flag < 0x7f ? `'${String.fromCharCode(flag)}'` : `0x${flag.toString(16)}`;
    throw new OcipushError('EROOTFS', `rootfs ${this.path}: entry ${JSON.stringify(entry.name.toString())} is of tar type ${type}${what ? ` (${what})` : contiguous}, which umoci, containerd and Docker do not unpack: not a layer${what ? '; write the tar again without that option' : ''}`, { path: this.path });
  }

  /** A whiteout of no entry (tar-paths.ts emptyWhiteout). */
  private refuseEmptyWhiteout(name: Buffer): void {
    const rest = emptyWhiteout(name);
    if (rest === undefined) return;
    throw new OcipushError('EROOTFS', `rootfs ${this.path}: entry ${JSON.stringify(name.toString())} ${EMPTY_WHITEOUT(rest)}: not a layer`, { path: this.path });
  }

  private noteArchiveName(name: Buffer): void {
    const text = name.toString('latin1').replace(/^(?:\.?\/)+/, '');
    if (text === 'manifest.json' || text === 'oci-layout' || text === 'index.json' || text === 'repositories') this.archiveNames.add(text);
    else if (text.startsWith('blobs/sha256/') || /^[0-9a-f]{64}\/layer\.tar$/.test(text)) this.archiveNames.add('blobs');
  }

  /**
   * The kind of image archive the tar is (`docker save`'s, `podman save`'s, an oci-archive), by
   * the names at its top, else undefined: a layer of those files is not the image they hold. A
   * manifest.json alone is a web app's.
   */
  imageArchive(): 'docker-archive' | 'oci-archive' | undefined {
    const has = (name: string) => this.archiveNames.has(name);
    if (has('manifest.json') && (has('blobs') || has('repositories'))) return 'docker-archive';
    if (has('oci-layout') && has('index.json')) return 'oci-archive';
    return undefined;
  }

  write(chunk: Buffer): void {
    if (this.failure) return;
    try { this.reader.write(chunk); } catch (err) { this.failure = err as Error; }
  }

  /** `onWarning`: told when the tar is an image archive, which a layer of its files is not. */
  end(onWarning?: (message: string) => void): void {
    const path = this.path;
    if (!this.failure) {
      try { this.reader.end(); } catch (err) { this.failure = err as Error; }
    }
    if (this.failure instanceof OcipushError) throw this.failure;
    if (this.failure) {
      throw new OcipushError('EROOTFS', `rootfs ${path}: not a whole tar archive (${this.failure.message})`, { path, cause: this.failure });
    }
    if (this.globalHeaders) throw new GlobalHeaders(`rootfs ${path}: pax global headers`);
    const kind = this.imageArchive();
    if (kind) {
      onWarning?.(`rootfs ${path} is an image archive (${kind === 'docker-archive' ? "docker save's: manifest.json and its blobs" : "an oci-archive: oci-layout and index.json"}), stored as one layer of its files; to build onto the image it holds: ocipush copy ${kind}:${path} oci:base:app, then --base oci:base:app`);
    }
  }
}
