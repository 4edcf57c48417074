import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { defaultFileCount } from './fixture.js';

export interface BenchOptions {
  /** Fixture bytes (ignored with rootfs). */
  size: number;
  files: number;
  seed: string;
  rootfs: string | null;
  /** Time a Debian minbase rootfs (debootstrap, made once and cached) instead of a generated fixture. */
  debian: boolean;
  debianMirror: string | null;
  /** The Node that runs ocipush (default: the one running the bench). */
  node: string;
  runs: number;
  startupRuns: number;
  /** Size of the small generated tree whose build/push peak RSS the big one's must not exceed. */
  memoryReference: number;
  out: string;
  cacheDir: string;
  workDir: string | null;
  anchors: boolean;
  compression: string | null;
  pushLayout: 'umoci' | 'ocipush';
  /** Round-trip time of the relay the small image is also pushed through (0: not pushed so). */
  rttMs: number;
  /** Tags of the repository mirrored through that relay (copy --all-tags beside skopeo sync). */
  mirrorTags: number;
  onlyAnchors: boolean;
  keep: boolean;
}

export const USAGE = `usage: npm run bench -- [options]

Times ocipush against umoci (build) and skopeo (push) on the same tree, alternating the tools,
and prints medians, ratios and the issue's goals; writes the same as JSON.

  --size SIZE         fixture size, e.g. 500MB (default), 40MB, 2GiB (KB/MB/GB are 1000-based,
                      K/M/G and KiB/MiB/GiB 1024-based)
  --files N           regular files in the fixture (default: one per 10 KiB)
  --seed S            fixture seed (default "ocipush")
  --rootfs DIR        time this directory instead of a generated fixture
  --debian            time a Debian 12 minbase rootfs (debootstrap --variant=minbase bookworm;
                      made once under the cache dir, needs root and debootstrap the first time)
  --debian-mirror URL the mirror for --debian (default: the first Debian one in /etc/apt/sources.list*)
  --node PATH         run ocipush (and the node -e "" yardstick) with this Node binary, e.g. a
                      Node 24 from \`npm i --prefix /tmp/node24 node@24\` (default: this Node)
  --runs N            iterations, each running every tool once (default 3)
  --startup-runs N    runs of \`ocipush --version\` (default 10)
  --memory-reference SIZE
                      the small generated tree whose peak RSS the big one's must not exceed
                      (default 40MB: memory must be flat in the layer size)
  --anchors           also time tar | gzip -6, tar | pigz -6 and tar | sha256sum
  --compression C     passed to ocipush build (gzip | none | zstd; default: ocipush's own)
  --rtt MS            also push the small image, and mirror a repository of tags of it (copy
                      --all-tags beside skopeo sync), through relays adding MS of round-trip time
                      (a registry across a network, as a CI runner meets it; default 20, 0: no)
  --mirror-tags N     tags of that repository (default 20)
  --push-layout L     the layout both tools push: umoci (default; the same bytes for both) or ocipush
  --out FILE          JSON results (default bench-results/bench.json)
  --cache-dir DIR     where fixtures are kept between runs (default $XDG_CACHE_HOME/ocipush-bench)
  --work-dir DIR      where the scratch dir for layouts is made (default: the system temp dir);
                      the scratch dir is removed at the end
  --only-anchors      time umoci, skopeo and tar only (this machine's baseline; no ocipush)
  --keep              keep the scratch layouts
  -h, --help          this text`;

export function parseOptions(argv: string[]): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      size: { type: 'string', default: '500MB' },
      files: { type: 'string' },
      seed: { type: 'string', default: 'ocipush' },
      rootfs: { type: 'string' },
      debian: { type: 'boolean', default: false },
      'debian-mirror': { type: 'string' },
      node: { type: 'string' },
      runs: { type: 'string', default: '3' },
      'startup-runs': { type: 'string', default: '10' },
      'memory-reference': { type: 'string', default: '40MB' },
      anchors: { type: 'boolean', default: false },
      compression: { type: 'string' },
      'push-layout': { type: 'string', default: 'umoci' },
      rtt: { type: 'string', default: '20' },
      'mirror-tags': { type: 'string', default: '20' },
      out: { type: 'string', default: join('bench-results', 'bench.json') },
      'cache-dir': { type: 'string' },
      'work-dir': { type: 'string' },
      'only-anchors': { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return 'help';
  const size = parseSize(values.size!, 'size');
  const pushLayout = values['push-layout'];
  if (pushLayout !== 'umoci' && pushLayout !== 'ocipush') throw new Error(`--push-layout "${pushLayout}": expected umoci or ocipush`);
  if (values.debian && values.rootfs !== undefined) throw new Error('--debian and --rootfs name two trees: pick one');
  const cacheHome = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return {
    size,
    files: values.files === undefined ? defaultFileCount(size) : positiveInt(values.files, 'files'),
    seed: values.seed!,
    rootfs: values.rootfs === undefined ? null : resolve(values.rootfs),
    debian: values.debian!,
    debianMirror: values['debian-mirror'] ?? null,
    node: values.node === undefined ? process.execPath : resolve(values.node),
    runs: positiveInt(values.runs!, 'runs'),
    startupRuns: positiveInt(values['startup-runs']!, 'startup-runs'),
    memoryReference: parseSize(values['memory-reference']!, 'memory-reference'),
    out: resolve(values.out!),
    cacheDir: resolve(values['cache-dir'] ?? join(cacheHome, 'ocipush-bench')),
    workDir: values['work-dir'] === undefined ? null : resolve(values['work-dir']),
    anchors: values.anchors!,
    compression: values.compression ?? null,
    pushLayout,
    rttMs: nonNegativeInt(values.rtt!, 'rtt'),
    mirrorTags: positiveInt(values['mirror-tags']!, 'mirror-tags'),
    onlyAnchors: values['only-anchors']!,
    keep: values.keep!,
  };
}

const UNITS: Record<string, number> = {
  '': 1, b: 1,
  kb: 1e3, mb: 1e6, gb: 1e9,
  k: 1024, m: 1024 ** 2, g: 1024 ** 3,
  kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3,
};

export function parseSize(text: string, flag = 'size'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new Error(`--${flag} "${text}": expected a number with an optional unit (e.g. 500MB, 2GiB)`);
  return Math.round(Number(m[1]) * unit);
}

function nonNegativeInt(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${flag} "${text}": expected a whole number of milliseconds, 0 or more`);
  return n;
}

function positiveInt(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${flag} "${text}": expected a positive whole number`);
  return n;
}
