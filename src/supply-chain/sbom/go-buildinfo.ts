/**
 * The module information the Go linker embeds in every binary (`go version -m` reads it): a
 * `.go.buildinfo` blob that starts with the magic `\xff Go buildinf:`, found here by scanning the
 * bytes as they stream by, so a binary is never held whole. Go 1.18+ writes the strings inline
 * (flag bit 2): a uvarint length then the bytes, for the Go version and for the module info, the
 * latter framed by 16-byte sentinels. Older pointer-based blobs need the binary's sections and are
 * skipped.
 */
const MAGIC = Buffer.from('\xff Go buildinf:', 'latin1');
const HEADER_BYTES = 32;
/** Enough for the header and both strings of any real binary (module lists run to a few KiB). */
const CAPTURE_BYTES = 256 * 1024;

export interface GoModule {
  path: string;
  version: string;
  sum?: string;
}

export interface GoBuildInfo {
  goVersion: string;
  /** The `path` line: the main package's import path. */
  path?: string;
  main?: GoModule;
  deps: GoModule[];
}

export class GoBuildInfoScanner {
  private tail = Buffer.alloc(0);
  private captured: Buffer[] | undefined;
  private capturedBytes = 0;

  /** Feed the file's bytes in order. */
  update(chunk: Buffer): void {
    if (this.captured) {
      if (this.capturedBytes < CAPTURE_BYTES) {
        // A copy: the chunk may be a view of a buffer its producer reuses.
        this.captured.push(Buffer.from(chunk));
        this.capturedBytes += chunk.length;
      }
      return;
    }
    const window = this.tail.length > 0 ? Buffer.concat([this.tail, chunk]) : chunk;
    const at = window.indexOf(MAGIC);
    if (at >= 0) {
      const rest = window.subarray(at);
      this.captured = [Buffer.from(rest)];
      this.capturedBytes = rest.length;
      return;
    }
    this.tail = Buffer.from(window.subarray(Math.max(0, window.length - (MAGIC.length - 1))));
  }

  result(): GoBuildInfo | undefined {
    if (!this.captured) return undefined;
    return parseBuildInfo(Buffer.concat(this.captured));
  }
}

function readUvarint(buf: Buffer, offset: number): { value: number; next: number } | undefined {
  let value = 0;
  let shift = 0;
  for (let i = offset; i < buf.length && i < offset + 10; i++) {
    const b = buf[i]!;
    value += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return { value, next: i + 1 };
    shift += 7;
  }
  return undefined;
}

export function parseBuildInfo(blob: Buffer): GoBuildInfo | undefined {
  if (blob.length < HEADER_BYTES || !blob.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  const flags = blob[15]!;
  if ((flags & 0x2) === 0) return undefined; // pre-1.18 pointer format
  const strings: string[] = [];
  let offset = HEADER_BYTES;
  for (let i = 0; i < 2; i++) {
    const len = readUvarint(blob, offset);
    if (!len || len.next + len.value > blob.length) return undefined;
    strings.push(blob.subarray(len.next, len.next + len.value).toString('utf8'));
    offset = len.next + len.value;
  }
  const [goVersion, rawMod] = strings as [string, string];
  // The module info is framed by 16-byte sentinels (see runtime/debug.modinfo).
  const modinfo = rawMod.length >= 33 && rawMod.charCodeAt(rawMod.length - 17) === 0x0a ? rawMod.slice(16, -16) : rawMod;
  return { goVersion, ...parseModInfo(modinfo) };
}

function parseModInfo(text: string): Omit<GoBuildInfo, 'goVersion'> {
  const out: Omit<GoBuildInfo, 'goVersion'> = { deps: [] };
  let last: GoModule | undefined;
  for (const line of text.split('\n')) {
    const [kind, ...f] = line.split('\t');
    if (kind === 'path') out.path = f[0];
    else if (kind === 'mod' && f[0]) out.main = last = { path: f[0], version: f[1] ?? '', ...(f[2] ? { sum: f[2] } : {}) };
    else if (kind === 'dep' && f[0]) { last = { path: f[0], version: f[1] ?? '', ...(f[2] ? { sum: f[2] } : {}) }; out.deps.push(last); }
    else if (kind === '=>' && last && f[0]) {
      // A replacement by a directory (`=> ../fork`) keeps the module's own path, as syft names it,
      // and has no version (`(devel)`); any other replacement is that module at its version.
      const local = f[0].startsWith('.') || f[0].startsWith('/');
      if (!local) last.path = f[0];
      last.version = f[1] || (local ? '(devel)' : last.version);
      if (f[2]) last.sum = f[2];
      else delete last.sum;
    }
  }
  return out;
}
