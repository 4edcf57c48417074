/**
 * Micro-benchmark of the layer compressor: throughput, CPU time and ratio for compression
 * levels, block sizes and thread counts, on a tar captured once from a directory (default
 * /usr/share) or on a given file. Also shows where sha256 of the uncompressed bytes is best
 * computed, and that the output digest does not depend on the thread count.
 *
 *   node dist/scripts/bench-compress.js [--input FILE | --dir DIR] [--levels 1,2,3,4,6]
 *     [--block-sizes 256K,1M,4M (default: the compressor's)] [--threads 1,2] [--repeat 3] [--compression gzip|zstd]
 *     [--hash none,main,compressor] [--baseline]
 *
 * Wall time on a shared machine is noisy; CPU time (all threads) is not, so both are printed,
 * with the best and median wall time of --repeat rounds (each round runs every case once).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import { closeCompressionPool, createCompressor, DEFAULT_GZIP_LEVEL, DEFAULT_ZSTD_LEVEL } from '../src/layer/compress/index.js';
import type { Compression } from '../src/oci/media-types.js';

interface Args {
  input?: string;
  dir: string;
  levels: number[];
  blockSizes: number[];
  threads: number[];
  repeat: number;
  compression: Compression;
  hash: HashPlace[];
  baseline: boolean;
}

/**
 * Where the sha256 of the uncompressed input is taken: not at all, on the main thread as the
 * bytes go in, or by the compressor (digestInput: on its hashing worker when threads > 1).
 */
type HashPlace = 'none' | 'main' | 'compressor';

function parseArgs(argv: string[]): Args {
  const args: Args = {
    dir: '/usr/share', levels: [], blockSizes: [0], threads: [1, 2],
    repeat: 3, compression: 'gzip', hash: ['main'], baseline: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    const list = () => value().split(',');
    switch (flag) {
      case '--input': args.input = value(); break;
      case '--dir': args.dir = value(); break;
      case '--levels': args.levels = list().map(Number); break;
      case '--block-sizes': args.blockSizes = list().map(parseSize); break;
      case '--threads': args.threads = list().map(Number); break;
      case '--repeat': args.repeat = Number(value()); break;
      case '--compression': args.compression = value() as Compression; break;
      case '--hash': args.hash = list() as HashPlace[]; break;
      case '--baseline': args.baseline = true; break;
      default: throw new Error(`unknown flag ${flag}`);
    }
  }
  if (args.levels.length === 0) args.levels = [args.compression === 'zstd' ? DEFAULT_ZSTD_LEVEL : DEFAULT_GZIP_LEVEL];
  return args;
}

function parseSize(text: string): number {
  const m = /^(\d+)([KM]?)$/i.exec(text);
  if (!m) throw new Error(`bad size ${text}`);
  return Number(m[1]) * (m[2]?.toUpperCase() === 'K' ? 1024 : m[2]?.toUpperCase() === 'M' ? 1 << 20 : 1);
}

const MB = 1e6;

interface Sample {
  wall: number;
  /** CPU time of every thread. */
  cpu: number;
  /** Time the main thread was busy: what is left of it for the tar producer. */
  main: number;
  outBytes: number;
  digest: string;
}

async function runOnce(input: string, make: (digestInput: boolean) => NodeJS.ReadWriteStream, hash: HashPlace): Promise<Sample> {
  const cpu0 = process.cpuUsage();
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  const outHash = createHash('sha256');
  const inMain = hash === 'main' ? createHash('sha256') : null;
  let outBytes = 0;
  const source = createReadStream(input, { highWaterMark: 64 << 10 }); // tar-stream's chunk sizes
  if (inMain) source.on('data', (c) => inMain.update(c as Buffer));
  await pipeline(source, make(hash === 'compressor'), new Writable({
    highWaterMark: 1 << 20,
    write(chunk: Buffer, _enc, callback) {
      outHash.update(chunk);
      outBytes += chunk.length;
      callback();
    },
  }));
  if (inMain) inMain.digest();
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const main = performance.eventLoopUtilization(elu0).active / 1000;
  return { wall, cpu: (cpu.user + cpu.system) / 1e6, main, outBytes, digest: outHash.digest('hex').slice(0, 12) };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function report(label: string, inBytes: number, samples: Sample[]): void {
  const walls = samples.map((s) => s.wall);
  const best = Math.min(...walls);
  const s = samples[0]!;
  const digests = new Set(samples.map((x) => x.digest));
  console.log([
    label.padEnd(34),
    `best ${best.toFixed(2)}s`.padEnd(12),
    `median ${median(walls).toFixed(2)}s`.padEnd(14),
    `${(inBytes / MB / best).toFixed(0)} MB/s`.padEnd(10),
    `cpu ${median(samples.map((x) => x.cpu)).toFixed(2)}s`.padEnd(11),
    `main ${median(samples.map((x) => x.main)).toFixed(2)}s`.padEnd(11),
    `${(s.outBytes / MB).toFixed(1)} MB`.padEnd(11),
    `${((s.outBytes / inBytes) * 100).toFixed(2)}%`.padEnd(8),
    `[${walls.map((w) => w.toFixed(2)).join(' ')}]`,
    digests.size === 1 ? s.digest : `DIGESTS DIFFER ${[...digests].join(' ')}`,
  ].join(' '));
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  let input = args.input;
  let temp: string | undefined;
  if (!input) {
    temp = mkdtempSync(join(tmpdir(), 'bench-compress-'));
    input = join(temp, 'input.tar');
    console.log(`capturing tar -c ${args.dir} to ${input}`);
    const r = spawnSync('tar', ['-cf', input, '-C', args.dir, '.'], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (r.status !== 0 && r.status !== 1) throw new Error(`tar failed with status ${r.status}`);
  }
  try {
    const inBytes = statSync(input).size;
    console.log(`input ${input}: ${(inBytes / MB).toFixed(1)} MB; node ${process.version} zlib ${process.versions.zlib}; load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
    const sha = createHash('sha256');
    let hashing = 0;
    for await (const c of createReadStream(input, { highWaterMark: 1 << 20 })) {
      const t = performance.now();
      sha.update(c as Buffer);
      hashing += performance.now() - t;
    }
    console.log(`sha256 on one thread: ${(inBytes / MB / (hashing / 1000)).toFixed(0)} MB/s`);
    interface Case {
      label: string;
      run: () => Promise<Sample>;
      samples: Sample[];
    }
    const cases: Case[] = [];
    if (args.baseline) {
      for (const level of args.levels) {
        cases.push({ label: `node zlib one stream L${level}`, samples: [], run: () => runOnce(input, () => zlib.createGzip({ level, chunkSize: 1 << 20 }), 'none') });
      }
    }
    for (const level of args.levels) {
      for (const blockSize of args.blockSizes) {
        for (const threads of args.threads) {
          for (const hash of args.hash) {
            cases.push({
              label: `${args.compression} L${level} ${blockSize ? `${blockSize >> 10}K` : 'default'} t${threads} hash:${hash}`,
              samples: [],
              // 0: the compressor's default block size for the compression.
              run: () => runOnce(input, (digestInput) => createCompressor({
                compression: args.compression, level, threads, digestInput, ...(blockSize ? { blockSize } : {}),
              }), hash),
            });
          }
        }
      }
    }
    // Round after round of every case, so a burst of load elsewhere hits all cases alike.
    for (let r = 0; r < args.repeat; r++) {
      for (const c of cases) c.samples.push(await c.run());
      console.log(`round ${r + 1}/${args.repeat} done; load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
    }
    for (const c of cases) report(c.label, inBytes, c.samples);
  } finally {
    await closeCompressionPool();
    if (temp) rmSync(temp, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
