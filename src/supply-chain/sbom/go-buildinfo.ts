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

/** Build info blobs kept at most: the binary's own and those of Go binaries it embeds. */
const MAX_CANDIDATES = 8;
/** Room for an ELF file's section header table (Go's binaries have about 40 sections of 64 bytes). */
const MAX_SECTION_TABLE_BYTES = 64 * 1024;

interface Candidate { offset: number; pieces: Buffer[]; bytes: number }

/**
 * Scans an ELF file's bytes as they stream by for its build info. A binary may hold another Go
 * binary's (a `go:embed`ded one: in .rodata, before the binary's own, or in .noptrdata after it),
 * so every blob is kept, and the one the binary's `.go.buildinfo` section starts with is taken, as
 * `go version -m` takes it: the section header table, at the end of the file, says where sections
 * start (no name is needed: an embedded blob never starts a section). Without that table, the first.
 */
export class GoBuildInfoScanner {
  private tail = Buffer.alloc(0);
  private readonly candidates: Candidate[] = [];
  private offset = 0;
  private readonly header: Buffer[] = [];
  private headerBytes = 0;
  private table: { start: number; length: number; entry: number; count: number; little: boolean; wide: boolean } | undefined | null;
  private readonly tablePieces: Buffer[] = [];

  /** Feed the file's bytes in order. */
  update(chunk: Buffer): void {
    const at = this.offset;
    this.offset += chunk.length;
    if (this.headerBytes < 64) { this.header.push(Buffer.from(chunk.subarray(0, 64 - this.headerBytes))); this.headerBytes += Math.min(chunk.length, 64 - this.headerBytes); }
    if (this.table === undefined && this.headerBytes >= 64) this.table = sectionTable(Buffer.concat(this.header));
    if (this.table) {
      const from = Math.max(this.table.start, at);
      const to = Math.min(this.table.start + this.table.length, this.offset);
      // A copy: the chunk may be a view of a buffer its producer reuses.
      if (from < to) this.tablePieces.push(Buffer.from(chunk.subarray(from - at, to - at)));
    }
    for (const c of this.candidates) {
      if (c.bytes < CAPTURE_BYTES) { c.pieces.push(Buffer.from(chunk)); c.bytes += chunk.length; }
    }
    const window = this.tail.length > 0 ? Buffer.concat([this.tail, chunk]) : chunk;
    const windowStart = at - this.tail.length;
    for (let found = window.indexOf(MAGIC); found >= 0 && this.candidates.length < MAX_CANDIDATES; found = window.indexOf(MAGIC, found + 1)) {
      const rest = window.subarray(found);
      this.candidates.push({ offset: windowStart + found, pieces: [Buffer.from(rest)], bytes: rest.length });
    }
    this.tail = Buffer.from(window.subarray(Math.max(0, window.length - (MAGIC.length - 1))));
  }

  result(): GoBuildInfo | undefined {
    const parsed = this.candidates.map((c) => ({ offset: c.offset, info: parseBuildInfo(Buffer.concat(c.pieces)) })).filter((c) => c.info);
    if (parsed.length <= 1) return parsed[0]?.info;
    const starts = this.sectionStarts();
    return (parsed.find((c) => starts.has(c.offset)) ?? parsed[0]!).info;
  }

  /** The file offsets sections start at, from the section header table (sh_offset of each entry). */
  private sectionStarts(): Set<number> {
    const out = new Set<number>();
    const t = this.table;
    const bytes = Buffer.concat(this.tablePieces);
    if (!t || bytes.length < t.length) return out;
    for (let i = 0; i < t.count; i++) {
      const e = i * t.entry;
      // sh_offset: 8 bytes at 24 in ELF64, 4 bytes at 16 in ELF32.
      const offset = t.wide ? Number(t.little ? bytes.readBigUInt64LE(e + 24) : bytes.readBigUInt64BE(e + 24)) : (t.little ? bytes.readUInt32LE(e + 16) : bytes.readUInt32BE(e + 16));
      out.add(offset);
    }
    return out;
  }
}

/** Where an ELF header says its section header table is; null when it has none or it is not one to trust. */
function sectionTable(h: Buffer) {
  const wide = h[4] === 2;
  const little = h[5] !== 2;
  if (h[4] !== 1 && h[4] !== 2) return null;
  const u16 = (at: number) => (little ? h.readUInt16LE(at) : h.readUInt16BE(at));
  const start = wide ? Number(little ? h.readBigUInt64LE(0x28) : h.readBigUInt64BE(0x28)) : (little ? h.readUInt32LE(0x20) : h.readUInt32BE(0x20));
  const entry = u16(wide ? 0x3a : 0x2e);
  const count = u16(wide ? 0x3c : 0x30);
  const length = entry * count;
  if (start === 0 || count === 0 || entry < (wide ? 32 : 20) || length > MAX_SECTION_TABLE_BYTES) return null;
  return { start, length, entry, count, little, wide };
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
