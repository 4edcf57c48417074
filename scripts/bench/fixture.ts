import {
  closeSync, existsSync, lstatSync, lutimesSync, mkdirSync, openSync, readdirSync, readFileSync,
  renameSync, rmSync, symlinkSync, writeFileSync, writeSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import { ByteStream, Rng } from './prng.js';

/**
 * A deterministic tree shaped like a real image's root filesystem: many small text files
 * (compressible), some large binaries (semi-compressible), some already-compressed data
 * (incompressible), nested directories and symlinks. The same spec gives the same bytes on every
 * machine, so figures from different machines compare.
 */
export interface FixtureSpec {
  /** Total bytes of regular file content. */
  bytes: number;
  /** Number of regular files (at least 3: one of each kind). */
  files: number;
  seed: string;
}

export interface FixtureSummary extends FixtureSpec {
  generator: number;
  dirs: number;
  symlinks: number;
  text: { files: number; bytes: number };
  binary: { files: number; bytes: number };
  random: { files: number; bytes: number };
}

/** Bump when the generator's output changes, so a cache never serves an older tree under a new name. */
const GENERATOR_VERSION = 1;
const SHARE = { text: 0.5, binary: 0.4, random: 0.1 };
/** Every entry gets this mtime, so the tar stream (and so the layer) is the same on every run. */
const FIXED_TIME = new Date('2024-01-01T00:00:00Z');

/** The default file count for a size: about one file per 10 KiB, like a Debian /usr/share. */
export function defaultFileCount(bytes: number): number {
  return Math.max(3, Math.round(bytes / 10240));
}

export function fixtureName(spec: FixtureSpec): string {
  return `fixture-v${GENERATOR_VERSION}-${spec.bytes}b-${spec.files}f-${spec.seed.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
}

/**
 * The fixture for `spec` under `cacheDir`, generated on first use. It is built under a temp name
 * and renamed when whole, so an interrupted run never leaves a half tree that a later run reuses.
 */
export function ensureFixture(cacheDir: string, spec: FixtureSpec, log: (line: string) => void): { path: string; summary: FixtureSummary; reused: boolean } {
  const name = fixtureName(spec);
  const path = join(cacheDir, name);
  const summaryPath = join(cacheDir, `${name}.json`);
  if (existsSync(path) && existsSync(summaryPath)) {
    return { path, summary: JSON.parse(readFileSync(summaryPath, 'utf8')) as FixtureSummary, reused: true };
  }
  mkdirSync(cacheDir, { recursive: true });
  const partial = `${path}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  log(`generating fixture ${name} in ${cacheDir} (once; later runs reuse it)`);
  const started = Date.now();
  const summary = generateFixture(partial, spec);
  writeFileSync(summaryPath, JSON.stringify(summary, null, 2) + '\n');
  rmSync(path, { recursive: true, force: true });
  renameSync(partial, path);
  log(`fixture ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return { path, summary, reused: false };
}

export function generateFixture(root: string, spec: FixtureSpec): FixtureSummary {
  if (!Number.isInteger(spec.files) || spec.files < 3) throw new Error(`--files ${spec.files}: need at least 3 files (one of each kind)`);
  if (!Number.isFinite(spec.bytes) || spec.bytes < spec.files) throw new Error(`--size ${spec.bytes} bytes is too small for ${spec.files} files`);
  const rng = new Rng(spec.seed);
  const stream = new ByteStream(spec.seed);

  const randomBytes = Math.floor(spec.bytes * SHARE.random);
  const binaryBytes = Math.floor(spec.bytes * SHARE.binary);
  const textBytes = spec.bytes - randomBytes - binaryBytes;
  const randomCount = clamp(Math.round(randomBytes / (3 << 20)), 1, Math.floor(spec.files * 0.02) + 1);
  const binaryCount = clamp(Math.round(binaryBytes / (4 << 20)), 1, Math.floor(spec.files * 0.05) + 1);
  const textCount = spec.files - randomCount - binaryCount;

  mkdirSync(root, { recursive: true });
  const dirs = makeDirs(root, rng, Math.max(1, Math.round(spec.files / 20)));
  const files: string[] = [];
  const place = (ext: string): string => {
    const path = join(rng.pick(dirs), `${rng.pick(WORDS)}-${files.length}.${ext}`);
    files.push(path);
    return join(root, path);
  };

  for (const size of splitSizes(rng, textBytes, textCount, 1.0)) {
    const style = rng.int(0, 3);
    const path = place(rng.pick(TEXT_EXTENSIONS[style]!));
    writeFileSync(path, textContent(rng, size, style), { mode: rng.chance(0.1) ? 0o755 : 0o644 });
  }
  for (const size of splitSizes(rng, binaryBytes, binaryCount, 0.8)) {
    writeChunked(place(rng.pick(['so', 'bin', 'a'])), size, 0o755, (chunk) => fillBinary(chunk, rng, stream));
  }
  for (const size of splitSizes(rng, randomBytes, randomCount, 0.8)) {
    writeChunked(place(rng.pick(['gz', 'png', 'jpg', 'xz'])), size, 0o644, (chunk) => stream.take(chunk.length).copy(chunk));
  }

  const symlinkCount = Math.max(1, Math.round(spec.files / 40));
  for (let i = 0; i < symlinkCount; i++) {
    const dir = rng.pick(dirs);
    const target = rng.chance(0.1) ? rng.pick(dirs) : rng.pick(files);
    symlinkSync(relative(join('/', dir), join('/', target)) || '.', join(root, dir, `link-${i}`));
  }
  fixTimes(root);

  return {
    ...spec,
    generator: GENERATOR_VERSION,
    dirs: dirs.length - 1,
    symlinks: symlinkCount,
    text: { files: textCount, bytes: textBytes },
    binary: { files: binaryCount, bytes: binaryBytes },
    random: { files: randomCount, bytes: randomBytes },
  };
}

/** Directory paths relative to root ('' is root), biased towards shallow trees like a real filesystem. */
function makeDirs(root: string, rng: Rng, count: number): string[] {
  const dirs = [''];
  for (let i = 1; i < count; i++) {
    const parent = dirs[Math.floor(i * rng.float() ** 2)]!;
    const dir = join(parent, `${rng.pick(WORDS)}${i}`);
    mkdirSync(join(root, dir));
    dirs.push(dir);
  }
  return dirs;
}

/** `count` sizes summing exactly to `total`, spread log-normally (a few big files, many small). */
function splitSizes(rng: Rng, total: number, count: number, sigma: number): number[] {
  const weights = Array.from({ length: count }, () => Math.exp(sigma * rng.normal()));
  const sum = weights.reduce((a, b) => a + b, 0);
  const sizes = weights.map((w) => Math.floor((total * w) / sum));
  let rest = total - sizes.reduce((a, b) => a + b, 0);
  for (let i = 0; rest > 0; i = (i + 1) % count, rest--) sizes[i]!++;
  return sizes;
}

/** Big files are written a chunk at a time: the generator never holds a whole file. */
function writeChunked(path: string, size: number, mode: number, fill: (chunk: Buffer) => void): void {
  const fd = openSync(path, 'w', mode);
  try {
    const chunk = Buffer.alloc(256 * 1024);
    for (let done = 0; done < size; ) {
      const view = chunk.subarray(0, Math.min(chunk.length, size - done));
      fill(view);
      writeSync(fd, view);
      done += view.length;
    }
  } finally {
    closeSync(fd);
  }
}

const BLOCK = 4096;
/**
 * Machine-code-like data: 4 KiB blocks of zeros, low-entropy bytes, near-copies of a recent
 * block (within gzip's 32 KiB window) or random bytes. gzip -6 shrinks it to about 40 %.
 */
function fillBinary(chunk: Buffer, rng: Rng, stream: ByteStream): void {
  for (let off = 0; off < chunk.length; off += BLOCK) {
    const block = chunk.subarray(off, Math.min(off + BLOCK, chunk.length));
    const kind = rng.float();
    if (kind < 0.2) {
      block.fill(0);
    } else if (kind < 0.55) {
      const src = stream.take(block.length);
      const base = rng.int(0, 16) << 4;
      for (let i = 0; i < block.length; i++) block[i] = base | (src[i]! & 0x0f);
    } else if (kind < 0.8 && off >= BLOCK) {
      const from = off - BLOCK * rng.int(1, Math.min(7, off / BLOCK + 1));
      chunk.copy(block, 0, from, from + block.length);
      for (let k = 0; k < block.length / 64; k++) block[rng.int(0, block.length)] = rng.next() & 0xff;
    } else {
      stream.take(block.length).copy(block);
    }
  }
}

function textContent(rng: Rng, size: number, style: number): Buffer {
  const parts: string[] = [];
  let length = 0;
  while (length < size) {
    const line = style === 0 ? proseLine(rng) : style === 1 ? codeLine(rng) : configLine(rng);
    parts.push(line);
    length += line.length;
  }
  return Buffer.from(parts.join(''), 'latin1').subarray(0, size);
}

function proseLine(rng: Rng): string {
  if (rng.chance(0.08)) return '\n';
  const n = rng.int(6, 15);
  const words: string[] = [];
  for (let i = 0; i < n; i++) words.push(rng.pick(WORDS));
  words[0] = words[0]![0]!.toUpperCase() + words[0]!.slice(1);
  return `${words.join(' ')}${rng.chance(0.2) ? ',' : '.'}\n`;
}

function identifier(rng: Rng): string {
  const a = rng.pick(WORDS);
  if (rng.chance(0.5)) return a;
  const b = rng.pick(WORDS);
  return rng.chance(0.5) ? `${a}_${b}` : `${a}${b[0]!.toUpperCase()}${b.slice(1)}`;
}

function codeLine(rng: Rng): string {
  const indent = ' '.repeat(2 * rng.int(0, 4));
  switch (rng.int(0, 7)) {
    case 0: return `${indent}const ${identifier(rng)} = ${identifier(rng)}(${identifier(rng)}, ${rng.int(0, 1000)});\n`;
    case 1: return `${indent}if (${identifier(rng)} ${rng.pick(OPERATORS)} ${rng.int(0, 100)}) {\n`;
    case 2: return `${indent}}\n`;
    case 3: return `${indent}return ${identifier(rng)}.${identifier(rng)};\n`;
    case 4: return `${indent}// ${proseLine(rng)}`;
    case 5: return `${indent}${identifier(rng)}.${identifier(rng)}(${rng.chance(0.5) ? `"${identifier(rng)}"` : identifier(rng)});\n`;
    default: return '\n';
  }
}

function configLine(rng: Rng): string {
  switch (rng.int(0, 5)) {
    case 0: return `[${rng.pick(WORDS)}]\n`;
    case 1: return `# ${proseLine(rng)}`;
    case 2: return `${identifier(rng)} = ${rng.int(0, 65536)}\n`;
    default: return `${identifier(rng)}.${identifier(rng)} = ${rng.chance(0.5) ? rng.pick(['true', 'false', 'yes', 'no']) : `/usr/${rng.pick(WORDS)}/${rng.pick(WORDS)}`}\n`;
  }
}

/** Sets every entry's mtime (children before their directory, whose mtime writing them changed). */
function fixTimes(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) fixTimes(path);
    else lutimesSync(path, FIXED_TIME, FIXED_TIME);
  }
  lutimesSync(dir, FIXED_TIME, FIXED_TIME);
}

export interface TreeStats {
  files: number;
  dirs: number;
  symlinks: number;
  other: number;
  /** Bytes of regular file content. */
  bytes: number;
}

/** Counts what a tree holds (any tree: the bench describes `--rootfs` trees with it too). */
export function describeTree(root: string): TreeStats {
  const stats: TreeStats = { files: 0, dirs: 0, symlinks: 0, other: 0, bytes: 0 };
  const pending = [root];
  while (pending.length) {
    const dir = pending.pop()!;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        stats.dirs++;
        pending.push(path);
      } else if (entry.isSymbolicLink()) {
        stats.symlinks++;
      } else if (entry.isFile()) {
        stats.files++;
        stats.bytes += lstatSync(path).size;
      } else {
        stats.other++;
      }
    }
  }
  return stats;
}

function clamp(n: number, lo: number, hi: number): number {
  return Math.min(Math.max(n, lo), hi);
}

const OPERATORS = ['<', '>', '==', '!=', '<=', '>='];
const TEXT_EXTENSIONS = [['txt', 'md', 'html', '1'], ['c', 'h', 'js', 'py', 'rs'], ['conf', 'ini', 'json', 'yaml']];
const WORDS = (
  'the of and to in is that for it as was with be by on not he this are or his from at which but have an they ' +
  'one you were all we her she there would their will when who him been has more if no out do so can what up ' +
  'said about other into than its time only could new them man some these then two first may any like now my ' +
  'such make over our even most me state after also made many did must before back see through way where get ' +
  'much go well your know should down work year because come people just say each those take day good how long ' +
  'file path buffer size count index value result error config option string number list table name type data ' +
  'stream read write open close parse format build image layer digest manifest registry push pull cache user ' +
  'group mode link entry header block chunk offset length source target module package library system kernel ' +
  'device network socket server client request response status message handler event queue thread worker'
).split(' ');
