import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Transform, Writable, type Duplex, type Readable } from 'node:stream';
import type { Zlib } from 'node:zlib';
import { pipeline } from 'node:stream/promises';
import { OcipushError } from '../errors.js';
import { Digester, type Digest } from '../oci/digest.js';
import type { Descriptor } from '../oci/descriptor.js';
import { layerMediaType, type Compression } from '../oci/media-types.js';
import { scanXattrs, type XattrMap } from './xattrs.js';
import { createDecompressor, loadCompressors } from './codec.js';
import { DEFAULT_BLOCK_SIZE } from './compress/options.js';
import type { Compressor } from './compress/compressor.js';
import type { RangeDigester } from './compress/range-digests.js';
import { FileChunks, type LayerSource } from './layer-source.js';
import { StagedBlob } from '../content/staged-blob.js';
import { TarProducer, pumpTar, type ChunkProducer, type TarObserver } from './tar.js';
import { CheckingReader, GlobalHeaders } from './checking-reader.js';
import { EMPTY_WHITEOUT, emptyWhiteout } from './tar-paths.js';
import { droppingGlobalHeaders } from './global-headers.js';
import { attachXattrs, walk, type FsEntry, type WalkOptions } from './walk.js';

export interface LayerOptions {
  /** Layer compression (default gzip). */
  compression?: Compression;
  /** Compression level (gzip 1–9, zstd 1–19); the compressor's default when unset. */
  level?: number;
  /** Compression threads; the compressor's default (every core) when unset. */
  threads?: number;
  /** File mtimes later than this (seconds since the epoch) are set to it. */
  clampMtime: number;
  /** Replaces every entry's uid/gid. */
  owner?: { uid: number; gid: number };
  onWarning?: (message: string) => void;
  onProgress?: (progress: LayerProgress) => void;
  signal?: AbortSignal;
  /** Absolute real paths a directory layer leaves out (the layout being written into). */
  exclude?: string[];
  /** Entries written before the directory's own (the whiteouts of `--remove`). */
  prepend?: FsEntry[];
  /** Sees each walked entry's full lstat before the entry is read (the layer cache's key). */
  onStats?: WalkOptions['onStats'];
  /** Sees every entry of the layer's tar as it is written (the SBOM's file facts, without a second read). */
  observer?: TarObserver;
}

export interface LayerProgress {
  /** Uncompressed tar bytes so far. */
  bytes: number;
  /** Entries so far (directories only). */
  entries?: number;
  /** Total input bytes, when known in advance (tar files). */
  totalBytes?: number;
}

export interface LayerResult {
  descriptor: Descriptor;
  /** sha256 of the uncompressed tar, for the config's rootfs.diff_ids. */
  diffId: Digest;
  uncompressedSize: number;
  /** The blob, staged beside the layout: `commitTo` puts it under its digest. */
  blob: StagedBlob;
}

/** Where staged blobs are written and what an error about them names. */
export interface StagingArea {
  dir: string;
  where: string;
}

/**
 * Builds one layer in a single streaming pass: tar bytes → sha256 (diff_id) → compressor →
 * sha256 (digest) → staged temp file. A directory is walked and archived once; a tar file is
 * read once (a compressed tar already in the wanted compression is stored byte for byte, and its
 * diff_id comes from decompressing the same bytes on the way through).
 */
export async function buildLayer(source: LayerSource, stage: StagingArea, options: LayerOptions): Promise<LayerResult> {
  const compression = options.compression ?? 'gzip';
  if (source.kind === 'directory') {
    return stageLayer(stage, compression, async (blob) => archiveDirectory(source.path, blob.stream, compression, {
      ...options,
      // A staged blob inside the rootfs (`ocipush build .`) must not archive itself.
      exclude: [...(options.exclude ?? []), await realTempPath(blob.tempPath)],
    }));
  }
  try {
    return await stageLayer(stage, compression, (blob) => copyTar(source.path, source.compression, blob.stream, compression, options));
  } catch (err) {
    if (!(err instanceof TrailingBytes || err instanceof GlobalHeaders)) throw err;
    // Compressed again from the tar inside; the observer, fed once already, is left without its
    // end (the SBOM then reads the stored layer).
    const { observer: _fed, ...rest } = options;
    return stageLayer(stage, compression, (blob) => copyTar(source.path, source.compression, blob.stream, compression, rest, true));
  }
}

/**
 * A tar.gz whose gzip stream is followed by zero bytes (padding, which gzip and Node pass over):
 * Go's gzip reader (containerd, umoci, podman) refuses the layer ("gzip: invalid header"), so it
 * is not stored as it is.
 */
class TrailingBytes extends Error {}

/**
 * A layer written by `write` into a new staged blob, described once it is complete; the blob is
 * discarded if writing fails.
 */
export async function stageLayer(stage: StagingArea, compression: Compression, write: (blob: StagedBlob) => Promise<Uncompressed>): Promise<LayerResult> {
  const blob = await StagedBlob.create(stage.dir, stage.where);
  try {
    const { diffId, uncompressedSize } = await write(blob);
    return {
      descriptor: { mediaType: layerMediaType(compression), digest: blob.digest, size: blob.size },
      diffId,
      uncompressedSize,
      blob,
    };
  } catch (err) {
    await blob.discard();
    throw err;
  }
}

/**
 * A layer's diff_id alone: its tar streamed through sha256, nothing compressed or stored. The
 * same source and options give the same tar as buildLayer, so a registry cache keyed by diff_id
 * can be asked before any compression.
 */
export async function hashLayer(source: LayerSource, options: LayerOptions): Promise<Uncompressed> {
  // A new one for each pass: a pipeline ends the sink it writes into.
  const discard = () => new Writable({ write: (_chunk, _encoding, done) => done() });
  if (source.kind === 'directory') return archiveDirectory(source.path, discard(), 'none', options);
  // The tar buildLayer would store: without its global headers, if it has some.
  return copyTar(source.path, source.compression, discard(), 'none', options).catch((err: unknown) => {
    if (!(err instanceof GlobalHeaders)) throw err;
    const { observer: _fed, ...rest } = options;
    return copyTar(source.path, source.compression, discard(), 'none', rest, true);
  });
}

/** What a layer's uncompressed tar hashed to. */
export interface Uncompressed {
  diffId: Digest;
  uncompressedSize: number;
}

/** How a layer's tar is compressed. */
export interface CompressionSettings {
  compression: Compression;
  level?: number;
  threads?: number;
  signal?: AbortSignal;
}

/**
 * Writes a tar, chunk by chunk, into `out` through the compressor, hashing it on the way (the
 * diff_id). The chunk buffers and the compressor's output buffers are both recycled once written
 * (pumpTar, writeTo), so memory stays flat whatever the layer's size: `out` must keep no chunk
 * after its write callback, as a staged blob does not.
 */
export async function compressTar(producer: ChunkProducer, out: Writable, settings: CompressionSettings, onChunk?: (chunk: Buffer) => void): Promise<Uncompressed> {
  const diff = new Digester();
  const pump = (sink: Writable) => pumpTar(producer, sink, {
    onChunk: (chunk) => {
      diff.update(chunk);
      onChunk?.(chunk);
    },
    ...(settings.signal ? { signal: settings.signal } : {}),
  });
  const [compressor] = await compressors(settings.compression, settings);
  if (!compressor) {
    await pump(out);
  } else {
    if (compressor.acceptsRange && compressor.digestRange) producer.digestRangesWith?.(compressor as RangeDigester);
    const written = compressor.writeTo(out);
    await Promise.all([pump(compressor), written]);
  }
  return { diffId: diff.digest(), uncompressedSize: diff.size };
}

async function archiveDirectory(root: string, out: Writable, compression: Compression, options: LayerOptions): Promise<Uncompressed> {
  const warn = options.onWarning ?? (() => {});
  // The compression workers start while the walk waits for getfattr, not at the first block.
  const warm = compression === 'none' ? undefined : () => {
    // A hint: a failure to load shows where the compressor is made.
    loadCompressors().then(({ warmCompressors }) => warmCompressors({
      compression,
      ...(options.level !== undefined ? { level: options.level } : {}),
      ...(options.threads !== undefined ? { threads: options.threads } : {}),
    }), () => {});
  };
  const walked = await walkWithXattrs(root, warn, options.exclude ?? [], options.onStats, warm);
  const producer = new TarProducer(options.prepend?.length ? chain(options.prepend, walked) : walked, {
    clampMtime: options.clampMtime,
    ...(options.owner ? { owner: options.owner } : {}),
    ...(options.observer ? { observer: options.observer } : {}),
  });
  return compressTar(producer, out, { ...options, compression }, () => {
    options.onProgress?.({ bytes: producer.bytes, entries: producer.entries });
  });
}

/** `again`: the tar written anew (compressed again, its global headers dropped), never stored as it is. */
async function copyTar(path: string, from: Compression, out: Writable, to: Compression, options: LayerOptions, again = false): Promise<Uncompressed> {
  const { size: totalBytes } = await stat(path);
  // Every tar is followed, as an unpacker will: one cut short (a download that stopped) would
  // make an image no runtime unpacks. The observer (the SBOM) sees the entries on the way.
  const reader = new CheckingReader(path, options.observer);
  const where = `rootfs ${path}`;
  if (from === 'none' && to !== 'none' && !again) {
    // A plain tar read into recycled buffers, like a directory's tar: memory flat in its size.
    const file = new FileChunks(path);
    const result = await compressTar(file, out, { ...options, compression: to }, (chunk) => {
      reader.write(chunk);
      options.onProgress?.({ bytes: file.bytes, totalBytes });
    });
    reader.end(options.onWarning);
    return result;
  }
  // Before the file is opened: a read stream's open error needs a listener, which it gets when piped.
  const asItIs = from === to && !again;
  const [compressor] = asItIs ? [] : await compressors(to, options);
  const diff = new Digester();
  const see = (chunk: Buffer) => {
    diff.update(chunk);
    reader.write(chunk);
  };
  let read = 0;
  const input = createReadStream(path, { highWaterMark: 1 << 20 });
  const counter = passThrough((chunk) => {
    read += chunk.length;
    options.onProgress?.({ bytes: read, totalBytes });
  });
  const stages: Duplex[] = [counter];
  let trailing = 0;
  if (asItIs) {
    // Stored as it is; the diff_id is the hash of the decompressed bytes, computed on the way.
    stages.push(from === 'none' ? passThrough(see) : decompressingTee(from, see, where, (bytes) => { trailing = bytes; }));
  } else {
    if (from !== 'none') stages.push(guardDecompressor(createDecompressor(from), where));
    if (again) stages.push(droppingGlobalHeaders());
    stages.push(passThrough(see));
    if (compressor) {
      // As for a directory: the compressor writes to the blob itself, reusing its buffers.
      const written = compressor.writeTo(out);
      await Promise.all([run([input, ...stages, compressor], options.signal), written]);
      reader.end(options.onWarning);
      return { diffId: diff.digest(), uncompressedSize: diff.size };
    }
  }
  await run([input, ...stages, out], options.signal);
  if (trailing > 0) throw new TrailingBytes(`${where}: ${trailing} bytes after the gzip stream`);
  reader.end(options.onWarning);
  return { diffId: diff.digest(), uncompressedSize: diff.size };
}

async function realTempPath(path: string): Promise<string> {
  return join(await realpath(dirname(path)), basename(path));
}

/**
 * Entries walked ahead while getfattr runs, at most. They wait long enough to be promoted to V8's
 * old generation, and stay there after they are written until a full collection: 16,384 of them
 * (what the 500 MB bench tree filled while getfattr ran, 190 ms) were 5-6 MB of a build's peak,
 * which then grew with the tree. At 4,096 the rest of the walk runs with the tar instead; the
 * build took the same time (3.35 s against 3.32 s median, seven alternating runs).
 */
const MAX_WALK_AHEAD = 4096;

/**
 * The walk with each entry's xattrs attached. getfattr reads the tree in its own process while
 * this one walks ahead (the compressors are idle until tar starts anyway); entries are handed out
 * only once the xattrs are known, so the result never depends on which finished first.
 */
async function walkWithXattrs(root: string, warn: (message: string) => void, exclude: string[], onStats?: WalkOptions['onStats'], warm?: () => void): Promise<Iterator<FsEntry>> {
  let xattrs: XattrMap | undefined;
  const scan = scanXattrs(root, warn).then((map) => { xattrs = map; });
  const rest = walk(root, { onWarning: warn, exclude, ...(onStats ? { onStats } : {}) });
  const ahead: FsEntry[] = [];
  let ended = false;
  let aheadBytes = 0;
  while (xattrs === undefined && !ended && ahead.length < MAX_WALK_AHEAD) {
    for (let i = 0; i < 512; i++) {
      const r = rest.next();
      if (r.done) { ended = true; break; }
      ahead.push(r.value);
      aheadBytes += r.value.size;
    }
    // More than one block: the layer will go to the workers (a smaller one is compressed inline).
    if (warm && aheadBytes > DEFAULT_BLOCK_SIZE) {
      warm();
      warm = undefined;
    }
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  await scan;
  return withXattrs(ahead, ended ? undefined : rest, xattrs!);
}

function* withXattrs(ahead: FsEntry[], rest: Iterator<FsEntry> | undefined, xattrs: XattrMap): Generator<FsEntry> {
  const attach = (e: FsEntry): FsEntry => {
    const after = emptyWhiteout(e.name);
    if (after !== undefined) throw new OcipushError('EROOTFS', `${e.path.toString()} ${EMPTY_WHITEOUT(after)}: rename or remove it`, { path: e.path.toString() });
    if (xattrs.size > 0) attachXattrs(e, xattrs);
    return e;
  };
  for (let i = 0; i < ahead.length; i++) {
    const e = ahead[i]!;
    ahead[i] = undefined as unknown as FsEntry; // let it be collected once written
    yield attach(e);
  }
  if (rest) for (let r = rest.next(); !r.done; r = rest.next()) yield attach(r.value);
}

async function compressors(compression: Compression, options: { level?: number; threads?: number }): Promise<Compressor[]> {
  if (compression === 'none') return [];
  const { createCompressor } = await loadCompressors();
  return [createCompressor({
    compression,
    ...(options.level !== undefined ? { level: options.level } : {}),
    ...(options.threads !== undefined ? { threads: options.threads } : {}),
  })];
}

async function run(streams: (Readable | Duplex | Writable)[], signal?: AbortSignal): Promise<void> {
  try {
    await (pipeline as (...args: unknown[]) => Promise<void>)(...streams, signal ? { signal } : {});
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw new OcipushError('EABORTED', 'build interrupted', { cause: err });
    throw err;
  }
}

/** Passes chunks on unchanged, showing each to `see` first (hashing, counting). */
function passThrough(see: (chunk: Buffer) => void): Transform {
  return new Transform({
    readableHighWaterMark: 4 << 20,
    writableHighWaterMark: 4 << 20,
    transform(chunk: Buffer, _enc, callback) {
      see(chunk);
      callback(null, chunk);
    },
  });
}

/** A decompressor whose errors name the input file. */
function guardDecompressor(d: Duplex, where: string): Duplex {
  const original = d.destroy.bind(d);
  d.destroy = (err?: Error) => original(err && !(err instanceof OcipushError) ? corrupt(where, err) : err);
  return d;
}

function corrupt(where: string, err: Error): OcipushError {
  return new OcipushError('EROOTFS', `${where}: corrupt compressed data (${err.message})`, { cause: err });
}

/**
 * Passes compressed bytes through untouched while feeding them to a decompressor whose output
 * is hashed (and observed): the stored blob and the diff_id come from the same single read.
 */
function decompressingTee(compression: Compression, see: (chunk: Buffer) => void, where: string, onTrailing: (bytes: number) => void): Transform {
  const decompressor = createDecompressor(compression);
  let failure: Error | undefined;
  let fed = 0;
  decompressor.on('data', see);
  decompressor.on('error', (err) => { failure = corrupt(where, err); });
  const ended = new Promise<void>((resolve) => {
    decompressor.once('end', resolve);
    decompressor.once('error', () => resolve());
  });
  return new Transform({
    readableHighWaterMark: 4 << 20,
    writableHighWaterMark: 4 << 20,
    transform(chunk: Buffer, _enc, callback) {
      if (failure) { callback(failure); return; }
      fed += chunk.length;
      if (decompressor.write(chunk)) { callback(null, chunk); return; }
      const onDrain = () => { decompressor.off('error', onError); callback(failure ?? null, chunk); };
      const onError = () => { decompressor.off('drain', onDrain); callback(failure); };
      decompressor.once('drain', onDrain);
      decompressor.once('error', onError);
    },
    flush(callback) {
      decompressor.end();
      ended.then(() => {
        // zlib counts the input its gzip members took: what is left is the zero padding it skips.
        const taken = (decompressor as Partial<Zlib>).bytesWritten;
        if (!failure && compression === 'gzip' && taken !== undefined && taken < fed) onTrailing(fed - taken);
        callback(failure ?? null);
      }, callback);
    },
    destroy(err, callback) {
      decompressor.destroy();
      callback(err);
    },
  });
}

function* chain(first: FsEntry[], rest: Iterator<FsEntry>): Generator<FsEntry> {
  yield* first;
  for (let r = rest.next(); !r.done; r = rest.next()) yield r.value;
}
