import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureDebianRootfs } from './bench/debian.js';
import { defaultFileCount, describeTree, ensureFixture, type FixtureSummary, type TreeStats } from './bench/fixture.js';
import { measure, median, rssMethod } from './bench/measure.js';
import { parseOptions, USAGE, type BenchOptions } from './bench/options.js';
import { formatValue, makeRow, renderTable, type Row } from './bench/report.js';
import { timeCopies, timeMirrors, timePushes } from './bench/pushes.js';
import { timeDockerfileBuilds } from './bench/dockerfile.js';
import { startRegistry } from '../test/support/registry.js';
import {
  nodeBaseline, ocipushBuild, ocipushPush, ocipushRootfs, ocipushVersion, TAR_ANCHOR_NAMES, tarAnchor, umociRawUnpack,
  umociBuild, warmPageCache, type OcipushCli, type TarAnchor,
} from './bench/steps.js';
import { hasTool, imageInfo, ocipushCommands, toolVersion } from './bench/tools.js';

/** dist/scripts/bench.js → the repository root. */
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(REPO_ROOT, 'bin', 'ocipush.js');
const TAG = 'bench';
const MB200 = 200e6;
/** "No more than the small tree", with 10 % for the noise in any RSS figure (heap growth, GC timing). */
const FLAT = 1.1;

interface Sample {
  seconds: number;
  maxRssBytes?: number | null;
  cpuSeconds?: number | null;
  /** Compressed output size, where the step makes one. */
  bytes?: number | null;
  load1m?: number;
}

class Samples {
  readonly all: Record<string, Sample[]> = {};
  add(name: string, sample: Sample): void {
    // The load beside each figure shows which ones other work on the machine may have skewed.
    (this.all[name] ??= []).push({ ...sample, load1m: round2(os.loadavg()[0]!) });
  }
  medianSeconds(name: string): number | null {
    return median((this.all[name] ?? []).map((s) => s.seconds));
  }
  medianCpu(name: string): number | null {
    return median((this.all[name] ?? []).flatMap((s) => (s.cpuSeconds == null ? [] : [s.cpuSeconds])));
  }
  medianBytes(name: string): number | null {
    return median((this.all[name] ?? []).flatMap((s) => (s.bytes == null ? [] : [s.bytes])));
  }
  peakRss(...names: string[]): number | null {
    const values = names.flatMap((n) => this.all[n] ?? []).flatMap((s) => (s.maxRssBytes == null ? [] : [s.maxRssBytes]));
    return values.length ? Math.max(...values) : null;
  }
}

function log(line: string): void {
  process.stderr.write(`bench: ${line}\n`);
}

/** What the pipeline pushes most: a small base layer and an 8 MiB application layer on it. */
const SMALL_IMAGE = [{ bytes: 6_000_000, seed: 'small-image-base' }, { bytes: 8 * 1024 * 1024, seed: 'small-image-app' }];

function preflight(options: BenchOptions): { copy: boolean } {
  const tools = ['umoci', 'skopeo', 'docker-registry', 'setpriv', 'bash', 'tar'];
  if (options.anchors) tools.push('gzip', 'pigz', 'sha256sum');
  const missing = tools.filter((t) => !hasTool(t));
  if (missing.length) throw new Error(`missing tools: ${missing.join(', ')} (on Debian: apt-get install umoci skopeo docker-registry pigz)`);
  if (options.rootfs && !statSync(options.rootfs, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`--rootfs ${options.rootfs}: not a directory`);
  if (options.onlyAnchors) return { copy: false };
  if (!statSync(options.node, { throwIfNoEntry: false })?.isFile()) throw new Error(`--node ${options.node}: no such file`);
  if (!existsSync(join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js'))) throw new Error('ocipush is not compiled: run `npx tsc -p .` (`npm run bench` does)');
  const commands = ocipushCommands(CLI);
  const absent = ['build', 'push'].filter((c) => !commands.has(c));
  if (absent.length) {
    throw new Error(
      `ocipush ${absent.join(' and ')} ${absent.length > 1 ? 'are' : 'is'} not available yet: \`node bin/ocipush.js --help\` lists no such command. ` +
      'Use --only-anchors to time umoci, skopeo and tar alone.',
    );
  }
  // Registry to registry (issue 11's `ocipush copy`): timed as soon as the CLI has the verb.
  return { copy: commands.has('copy') };
}

interface FixtureInfo {
  kind: 'generated' | 'rootfs' | 'debian';
  path: string;
  tree: TreeStats;
  generated?: FixtureSummary;
}

function prepareFixture(options: BenchOptions): FixtureInfo {
  if (options.rootfs) return { kind: 'rootfs', path: options.rootfs, tree: describeTree(options.rootfs) };
  if (options.debian) {
    const d = ensureDebianRootfs(options.cacheDir, options.debianMirror, log);
    if (d.reused) log(`reusing the Debian rootfs ${d.path}`);
    return { kind: 'debian', path: d.path, tree: describeTree(d.path) };
  }
  const f = ensureFixture(options.cacheDir, { bytes: options.size, files: options.files, seed: options.seed }, log);
  if (f.reused) log(`reusing fixture ${f.path}`);
  return { kind: 'generated', path: f.path, tree: describeTree(f.path), generated: f.summary };
}

/**
 * The small image, as umoci writes it (so neither pusher pushes its own tool's bytes): a fresh
 * layout with one layer per generated tree, bottom first.
 */
async function makeSmallImage(options: BenchOptions, layout: string): Promise<void> {
  const trees = SMALL_IMAGE.map((t) => ensureFixture(options.cacheDir, { bytes: t.bytes, files: defaultFileCount(t.bytes), seed: t.seed }, log).path);
  await measure('umoci', ['init', '--layout', layout], { label: 'small image (umoci init)' });
  await measure('umoci', ['new', '--image', `${layout}:${TAG}`], { label: 'small image (umoci new)' });
  for (const tree of trees) await measure('umoci', ['insert', '--image', `${layout}:${TAG}`, tree, '/'], { label: 'small image (umoci insert)' });
}

/** The tools' order in iteration i: each goes first as often as the others, so none always gets the warmer machine. */
function rotate<T>(items: readonly T[], by: number): T[] {
  const k = by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

async function run(options: BenchOptions, argv: string[]): Promise<number> {
  const { copy } = preflight(options);
  // Other work on the machine skews every figure; the JSON says how busy it was.
  const loadAtStart = os.loadavg()[0]!;
  if (loadAtStart > 0.5 * os.cpus().length) log(`warning: the machine is busy (load ${loadAtStart.toFixed(1)} on ${os.cpus().length} cpus); figures will be noisy`);
  const withOcipush = !options.onlyAnchors;
  const ocipush: OcipushCli = { node: options.node, cli: CLI, compression: options.compression };
  const nodeVersion = toolVersion(options.node, ['--version']);
  log(`${withOcipush ? 'ocipush runs on' : 'node -e "" is'} Node ${nodeVersion} (${options.node})`);
  const fixture = prepareFixture(options);
  // The issue wants memory flat in the layer size: the same build and push of a small tree are the yardstick.
  const reference = withOcipush ? ensureFixture(options.cacheDir, { bytes: options.memoryReference, files: defaultFileCount(options.memoryReference), seed: options.seed }, log) : undefined;
  const rootfs = fixture.path;
  log(`tree ${rootfs}: ${fixture.tree.files} files, ${fixture.tree.dirs} dirs, ${fixture.tree.symlinks} symlinks, ${formatValue(fixture.tree.bytes, 'bytes')}`);
  await warmPageCache(rootfs);

  // Always a fresh directory of our own, even under --work-dir: removing it can never take anything else.
  if (options.workDir) mkdirSync(options.workDir, { recursive: true });
  const work = mkdtempSync(join(options.workDir ?? os.tmpdir(), 'ocipush-bench-'));
  const removeWork = () => { if (!options.keep) rmSync(work, { recursive: true, force: true }); };
  const onSignal = (signal: NodeJS.Signals) => { removeWork(); process.exit(signal === 'SIGINT' ? 130 : 143); };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const samples = new Samples();
  const rec = { add: (name: string, sample: Sample) => samples.add(name, sample), log };
  const smallLayout = join(work, 'small-image');
  let smallBytes = 0;
  const checks = { rebuildSameLayer: [] as boolean[], dockerfileRebuildSameLayer: [] as boolean[], ocipushPushedLayoutManifest: [] as boolean[], ocipushPushedSmallImage: [] as boolean[] };
  const anchorKinds: TarAnchor[] = options.anchors ? ['gzip', 'pigz', 'sha256sum'] : [];
  try {
    await makeSmallImage(options, smallLayout);
    smallBytes = (await imageInfo(smallLayout, TAG)).layerBytes;
    log(`small image: 2 layers, ${formatValue(smallBytes, 'bytes')} compressed`);
    for (let i = 1; i <= options.runs; i++) {
      const at = `run ${i}/${options.runs}`;
      const dir = join(work, `run-${i}`);
      mkdirSync(dir, { recursive: true });
      const oLayout = join(dir, 'ocipush-layout');
      const uLayout = join(dir, 'umoci-layout');
      // A cache outside the layout, if ocipush keeps one, must not make a later "cold" build warm.
      const env = { ...process.env, XDG_CACHE_HOME: join(dir, 'xdg-cache') };
      let coldLayers: string[] = [];

      const buildJobs: Array<() => Promise<void>> = [];
      if (withOcipush) {
        buildJobs.push(async () => {
          const plain = async () => {
            const m = await ocipushBuild(ocipush, rootfs, oLayout, TAG, env, `${at}: ocipush build`);
            const info = await imageInfo(oLayout, TAG);
            coldLayers = info.layers.map((l) => l.digest);
            samples.add('ocipush-build', { seconds: m.seconds, maxRssBytes: m.maxRssBytes, cpuSeconds: m.cpuSeconds, bytes: info.layerBytes });
            log(`${at}: ocipush build ${formatValue(m.seconds, 's')} (cpu ${formatValue(m.cpuSeconds, 's')}), peak ${formatValue(m.maxRssBytes, 'bytes')}, layer ${formatValue(info.layerBytes, 'bytes')}`);
          };
          // The same cold build with --sbom, into a layout of its own, before or after the plain
          // one by turns: the cost of --sbom is the ratio of the two (issue 12: at most 1.15).
          const sbom = async () => {
            const m = await ocipushBuild(ocipush, rootfs, join(dir, 'ocipush-sbom-layout'), TAG, { ...env, XDG_CACHE_HOME: join(dir, 'xdg-cache-sbom') }, `${at}: ocipush build --sbom`, ['--sbom']);
            samples.add('ocipush-build-sbom', { seconds: m.seconds, maxRssBytes: m.maxRssBytes, cpuSeconds: m.cpuSeconds });
            log(`${at}: ocipush build --sbom ${formatValue(m.seconds, 's')} (cpu ${formatValue(m.cpuSeconds, 's')}), peak ${formatValue(m.maxRssBytes, 'bytes')}`);
          };
          for (const step of rotate([plain, sbom], i - 1)) await step();
          // The rebuild follows the cold build at once: umoci insert changes the ctime of every
          // directory of the tree it reads, which (rightly) makes ocipush's layer cache unsure.
          const r = await ocipushBuild(ocipush, rootfs, oLayout, TAG, env, `${at}: ocipush rebuild`);
          const again = await imageInfo(oLayout, TAG);
          const same = again.layers.map((l) => l.digest).join() === coldLayers.join();
          checks.rebuildSameLayer.push(same);
          samples.add('ocipush-rebuild', { seconds: r.seconds, maxRssBytes: r.maxRssBytes, cpuSeconds: r.cpuSeconds });
          log(`${at}: ocipush rebuild (unchanged tree) ${formatValue(r.seconds, 's')} (cpu ${formatValue(r.cpuSeconds, 's')}), peak ${formatValue(r.maxRssBytes, 'bytes')}${same ? '' : ', LAYER DIFFERS from the cold build'}`);
        });
      }
      if (withOcipush) {
        buildJobs.push(async () => { checks.dockerfileRebuildSameLayer.push(await timeDockerfileBuilds(ocipush, rootfs, dir, TAG, env, at, rec)); });
      }
      buildJobs.push(async () => {
        const m = await umociBuild(rootfs, uLayout, TAG, `${at}: umoci`);
        const info = await imageInfo(uLayout, TAG);
        samples.add('umoci-build', { seconds: m.seconds, maxRssBytes: m.maxRssBytes, cpuSeconds: m.cpuSeconds, bytes: info.layerBytes });
        samples.add('umoci-insert', { seconds: m.insertSeconds });
        // Let the ctimes umoci just changed age past ocipush's 2 s racy-change window (not timed).
        await new Promise((r) => setTimeout(r, 2500));
        log(`${at}: umoci init+new+insert ${formatValue(m.seconds, 's')} (insert ${formatValue(m.insertSeconds, 's')}, cpu ${formatValue(m.cpuSeconds, 's')}), peak ${formatValue(m.maxRssBytes, 'bytes')}, layer ${formatValue(info.layerBytes, 'bytes')}`);
      });
      for (const kind of anchorKinds) {
        buildJobs.push(async () => {
          const out = join(dir, `anchor.tar.${kind}`);
          const m = await tarAnchor(kind, rootfs, out);
          rmSync(out, { force: true });
          samples.add(`anchor-${kind}`, { seconds: m.seconds, cpuSeconds: m.cpuSeconds, bytes: m.bytes });
          log(`${at}: ${TAR_ANCHOR_NAMES[kind]} ${formatValue(m.seconds, 's')} (cpu ${formatValue(m.cpuSeconds, 's')})${m.bytes === null ? '' : `, ${formatValue(m.bytes, 'bytes')}`}`);
        });
      }
      for (const job of rotate(buildJobs, i - 1)) await job();

      if (withOcipush) await timeRootfs(ocipush, oLayout, dir, i, at, rec);

      const pushLayout = options.pushLayout === 'ocipush' && withOcipush ? oLayout : uLayout;
      const layoutDigest = (await imageInfo(pushLayout, TAG)).manifestDigest;
      const pushed = await timePushes({ ocipush: withOcipush ? ocipush : null, layout: pushLayout, tag: TAG, iteration: i, prefix: '', label: at, rec });
      if (withOcipush) checks.ocipushPushedLayoutManifest.push(pushed === layoutDigest);
      const smallDigest = (await imageInfo(smallLayout, TAG)).manifestDigest;
      const pushedSmall = await timePushes({ ocipush: withOcipush ? ocipush : null, layout: smallLayout, tag: TAG, iteration: i, prefix: 'small-', label: `${at} (small image)`, rec });
      if (withOcipush) checks.ocipushPushedSmallImage.push(pushedSmall === smallDigest);
      if (options.rttMs > 0) {
        const overLink = await timePushes({ ocipush: withOcipush ? ocipush : null, layout: smallLayout, tag: TAG, iteration: i, prefix: 'small-rtt-', label: `${at} (small image, ${options.rttMs} ms RTT)`, rec, rttMs: options.rttMs });
        if (withOcipush) checks.ocipushPushedSmallImage.push(overLink === smallDigest);
      }
      if (copy) await timeCopies({ ocipush, layout: pushLayout, tag: TAG, iteration: i, label: at, rec });
      if (copy && options.rttMs > 0) await timeMirrors({ ocipush, withOcipush, layout: smallLayout, tag: TAG, tags: options.mirrorTags, rttMs: options.rttMs, iteration: i, label: at, rec });
      if (reference) {
        const refLayout = join(dir, 'reference-layout');
        const refEnv = { ...process.env, XDG_CACHE_HOME: join(dir, 'xdg-cache-reference') };
        const built = await ocipushBuild(ocipush, reference.path, refLayout, TAG, refEnv, `${at}: ocipush build (memory reference)`);
        samples.add('ocipush-build-reference', { seconds: built.seconds, maxRssBytes: built.maxRssBytes, cpuSeconds: built.cpuSeconds });
        const registry = await startRegistry();
        try {
          const pushed = await ocipushPush(ocipush, refLayout, TAG, `${registry.host}/bench/reference-${i}:${TAG}`, `${at}: ocipush push (memory reference)`);
          samples.add('ocipush-push-reference', { seconds: pushed.seconds, maxRssBytes: pushed.maxRssBytes, cpuSeconds: pushed.cpuSeconds });
          log(`${at}: memory reference (${formatValue(options.memoryReference, 'bytes')} tree): build peak ${formatValue(built.maxRssBytes, 'bytes')}, push peak ${formatValue(pushed.maxRssBytes, 'bytes')}`);
        } finally {
          await registry.stop();
        }
      }
      if (!options.keep) rmSync(dir, { recursive: true, force: true });
    }

    const startupRuns = withOcipush ? options.startupRuns : 0;
    if (startupRuns) {
      await ocipushVersion(ocipush); // warm-up: the first run reads the modules from disk
      await nodeBaseline(options.node);
      for (let k = 0; k < startupRuns; k++) {
        const pair = [async () => samples.add('ocipush-version', { seconds: (await ocipushVersion(ocipush)).seconds }),
          async () => samples.add('node-baseline', { seconds: (await nodeBaseline(options.node)).seconds })];
        for (const job of rotate(pair, k)) await job();
      }
    } else {
      for (let k = 0; k < options.startupRuns; k++) samples.add('node-baseline', { seconds: (await nodeBaseline(options.node)).seconds });
    }
  } finally {
    removeWork();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }

  const rows = buildRows(samples, options, anchorKinds);
  const table = renderTable(rows);
  process.stdout.write(`\n${table}\n\n`);
  const judged = rows.filter((r) => r.result !== 'n/a');
  process.stdout.write(`goals met: ${judged.filter((r) => r.result === 'pass').length}/${judged.length}` +
    ` (medians of ${options.runs} run${options.runs > 1 ? 's' : ''}; memory is the peak over all runs, by ${rssMethod}; ocipush on Node ${nodeVersion})\n`);

  const result = {
    schema: 'ocipush-bench/1',
    date: new Date().toISOString(),
    command: ['npm', 'run', 'bench', ...(argv.length ? ['--', ...argv] : [])].join(' '),
    machine: { ...machineInfo(), node: nodeVersion, nodePath: options.node, benchNode: process.version, loadAverage1m: { start: round2(loadAtStart), end: round2(os.loadavg()[0]!) } },
    tools: toolVersions(withOcipush, options.node),
    rssMethod,
    fixture,
    smallImage: { layers: SMALL_IMAGE, layerBytes: smallBytes },
    options: {
      runs: options.runs, startupRuns: options.startupRuns, compression: options.compression ?? 'default',
      pushLayout: options.pushLayout === 'ocipush' && withOcipush ? 'ocipush' : 'umoci', anchors: options.anchors, onlyAnchors: options.onlyAnchors,
    },
    rows,
    checks,
    samples: samples.all,
  };
  mkdirSync(dirname(options.out), { recursive: true });
  writeFileSync(options.out, JSON.stringify(result, null, 2) + '\n');
  log(`results written to ${options.out}`);
  if (loadAtStart > 0.5 * os.cpus().length) log(`note: the machine was busy when the bench started (load ${loadAtStart.toFixed(1)} on ${os.cpus().length} cpus); figures are noisier than on an idle machine`);
  if (checks.rebuildSameLayer.includes(false) || checks.dockerfileRebuildSameLayer.includes(false)) log('warning: a rebuild of the unchanged tree gave a different layer than the cold build');
  if (checks.ocipushPushedLayoutManifest.includes(false) || checks.ocipushPushedSmallImage.includes(false)) log('warning: the manifest ocipush pushed is not the layout\'s (digest differs)');
  return 0;
}

/**
 * The built image's filesystem: `ocipush rootfs` (one tar) against `umoci raw unpack` (a
 * directory) of the same layout, by turns; neither output is kept. No goal: a row to watch.
 */
async function timeRootfs(ocipush: OcipushCli, layout: string, dir: string, iteration: number, at: string, rec: { add: (name: string, sample: Sample) => void; log: (line: string) => void }): Promise<void> {
  const tarFile = join(dir, 'rootfs.tar');
  const unpacked = join(dir, 'umoci-rootfs');
  const ours = async () => {
    const m = await ocipushRootfs(ocipush, layout, TAG, tarFile, `${at}: ocipush rootfs`);
    rmSync(tarFile, { force: true });
    rec.add('ocipush-rootfs', { seconds: m.seconds, maxRssBytes: m.maxRssBytes, cpuSeconds: m.cpuSeconds });
    rec.log(`${at}: ocipush rootfs ${formatValue(m.seconds, 's')} (cpu ${formatValue(m.cpuSeconds, 's')}), peak ${formatValue(m.maxRssBytes, 'bytes')}`);
  };
  const theirs = async () => {
    const m = await umociRawUnpack(layout, TAG, unpacked, `${at}: umoci raw unpack`);
    rmSync(unpacked, { recursive: true, force: true });
    rec.add('umoci-raw-unpack', { seconds: m.seconds, maxRssBytes: m.maxRssBytes, cpuSeconds: m.cpuSeconds });
    rec.log(`${at}: umoci raw unpack ${formatValue(m.seconds, 's')} (cpu ${formatValue(m.cpuSeconds, 's')})`);
  };
  for (const step of rotate([ours, theirs], iteration - 1)) await step();
}

function buildRows(s: Samples, options: BenchOptions, anchorKinds: TarAnchor[]): Row[] {
  const build = s.medianSeconds('ocipush-build');
  const compression = options.compression ?? 'default compression';
  const rows = [
    makeRow({ id: 'build', step: `build: tree → layout (${compression})`, unit: 's', ocipush: build, anchorName: 'umoci init+new+insert', anchor: s.medianSeconds('umoci-build'), goal: { kind: 'ratio', max: 1.0 }, cpu: { ocipush: s.medianCpu('ocipush-build'), anchor: s.medianCpu('umoci-build') } }),
    makeRow({ id: 'layer-size', step: 'compressed layer size', unit: 'bytes', ocipush: s.medianBytes('ocipush-build'), anchorName: 'umoci insert', anchor: s.medianBytes('umoci-build'), goal: { kind: 'ratio', max: 1.05 } }),
    makeRow({ id: 'rebuild', step: 'rebuild, unchanged tree', unit: 's', ocipush: s.medianSeconds('ocipush-rebuild'), anchorName: 'ocipush cold build', anchor: build, goal: { kind: 'ratio', max: 0.2 }, cpu: { ocipush: s.medianCpu('ocipush-rebuild'), anchor: s.medianCpu('ocipush-build') } }),
    makeRow({ id: 'build-f-rebuild', step: 'build -f (COPY the tree), rebuild unchanged', unit: 's', ocipush: s.medianSeconds('ocipush-build-f-rebuild'), anchorName: 'ocipush build -f, cold', anchor: s.medianSeconds('ocipush-build-f'), goal: { kind: 'ratio', max: 0.2 }, cpu: { ocipush: s.medianCpu('ocipush-build-f-rebuild'), anchor: s.medianCpu('ocipush-build-f') } }),
    makeRow({ id: 'build-sbom', step: 'build --sbom, vs the same build without', unit: 's', ocipush: s.medianSeconds('ocipush-build-sbom'), anchorName: 'ocipush cold build', anchor: build, goal: { kind: 'ratio', max: 1.15 }, cpu: { ocipush: s.medianCpu('ocipush-build-sbom'), anchor: s.medianCpu('ocipush-build') } }),
    makeRow({ id: 'push-cold', step: 'push to local registry, cold', unit: 's', ocipush: s.medianSeconds('ocipush-push-cold'), anchorName: 'skopeo copy', anchor: s.medianSeconds('skopeo-push-cold'), goal: { kind: 'ratio', max: 1.0 }, cpu: { ocipush: s.medianCpu('ocipush-push-cold'), anchor: s.medianCpu('skopeo-push-cold') } }),
    makeRow({ id: 'push-warm', step: 're-push, all blobs present', unit: 's', ocipush: s.medianSeconds('ocipush-push-warm'), anchorName: 'skopeo copy', anchor: s.medianSeconds('skopeo-push-warm'), goal: { kind: 'ratio', max: 3.0 }, cpu: { ocipush: s.medianCpu('ocipush-push-warm'), anchor: s.medianCpu('skopeo-push-warm') } }),
    makeRow({ id: 'small-push-cold', step: 'small image (2 layers), push, cold', unit: 's', ocipush: s.medianSeconds('small-ocipush-push-cold'), anchorName: 'skopeo copy', anchor: s.medianSeconds('small-skopeo-push-cold'), goal: { kind: 'ratio', max: 1.0 }, cpu: { ocipush: s.medianCpu('small-ocipush-push-cold'), anchor: s.medianCpu('small-skopeo-push-cold') } }),
    makeRow({ id: 'small-push-warm', step: 'small image, re-push, all there', unit: 's', ocipush: s.medianSeconds('small-ocipush-push-warm'), anchorName: 'skopeo copy', anchor: s.medianSeconds('small-skopeo-push-warm'), goal: { kind: 'ratio', max: 3.0 }, cpu: { ocipush: s.medianCpu('small-ocipush-push-warm'), anchor: s.medianCpu('small-skopeo-push-warm') } }),
    ...(options.rttMs > 0 ? [
      makeRow({ id: 'small-push-cold-rtt', step: `small image, push, cold, ${options.rttMs} ms RTT`, unit: 's', ocipush: s.medianSeconds('small-rtt-ocipush-push-cold'), anchorName: 'skopeo copy', anchor: s.medianSeconds('small-rtt-skopeo-push-cold'), goal: { kind: 'ratio', max: 1.0 }, cpu: { ocipush: s.medianCpu('small-rtt-ocipush-push-cold'), anchor: s.medianCpu('small-rtt-skopeo-push-cold') } }),
      makeRow({ id: 'small-push-warm-rtt', step: `small image, re-push, ${options.rttMs} ms RTT`, unit: 's', ocipush: s.medianSeconds('small-rtt-ocipush-push-warm'), anchorName: 'skopeo copy', anchor: s.medianSeconds('small-rtt-skopeo-push-warm'), goal: { kind: 'ratio', max: 3.0 }, cpu: { ocipush: s.medianCpu('small-rtt-ocipush-push-warm'), anchor: s.medianCpu('small-rtt-skopeo-push-warm') } }),
    ] : []),
    makeRow({ id: 'rss-build', step: 'peak RSS, build', unit: 'bytes', ocipush: s.peakRss('ocipush-build', 'ocipush-rebuild'), anchorName: 'umoci insert', anchor: s.peakRss('umoci-build'), goal: { kind: 'absolute', below: MB200 } }),
    makeRow({ id: 'rss-build-flat', step: 'peak RSS, build, vs a small tree', unit: 'bytes', ocipush: s.peakRss('ocipush-build', 'ocipush-rebuild'), anchorName: `ocipush, ${formatValue(options.memoryReference, 'bytes')} tree`, anchor: s.peakRss('ocipush-build-reference'), goal: { kind: 'ratio', max: FLAT } }),
    makeRow({ id: 'rss-build-f', step: 'peak RSS, build -f', unit: 'bytes', ocipush: s.peakRss('ocipush-build-f', 'ocipush-build-f-rebuild'), anchorName: 'umoci insert', anchor: s.peakRss('umoci-build'), goal: { kind: 'absolute', below: MB200 } }),
    makeRow({ id: 'rss-push', step: 'peak RSS, push', unit: 'bytes', ocipush: s.peakRss('ocipush-push-cold', 'ocipush-push-warm'), anchorName: 'skopeo copy', anchor: s.peakRss('skopeo-push-cold', 'skopeo-push-warm'), goal: { kind: 'absolute', below: MB200 } }),
    makeRow({ id: 'rss-push-flat', step: 'peak RSS, push, vs a small tree', unit: 'bytes', ocipush: s.peakRss('ocipush-push-cold', 'ocipush-push-warm'), anchorName: `ocipush, ${formatValue(options.memoryReference, 'bytes')} tree`, anchor: s.peakRss('ocipush-push-reference'), goal: { kind: 'ratio', max: FLAT } }),
    makeRow({ id: 'startup', step: 'start-up, ocipush --version', unit: 's', ocipush: s.medianSeconds('ocipush-version'), anchorName: 'node -e ""', anchor: s.medianSeconds('node-baseline'), goal: { kind: 'ratio', max: 1.5 } }),
  ];
  if (s.all['ocipush-rootfs']) {
    rows.push(makeRow({ id: 'rootfs', step: 'image filesystem, layers applied', unit: 's', ocipush: s.medianSeconds('ocipush-rootfs'), anchorName: 'umoci raw unpack', anchor: s.medianSeconds('umoci-raw-unpack'), cpu: { ocipush: s.medianCpu('ocipush-rootfs'), anchor: s.medianCpu('umoci-raw-unpack') } }));
  }
  if (s.all['copy-ocipush']) {
    rows.push(makeRow({ id: 'copy', step: 'copy registry → registry', unit: 's', ocipush: s.medianSeconds('copy-ocipush'), anchorName: 'skopeo copy docker:// docker://', anchor: s.medianSeconds('copy-skopeo'), goal: { kind: 'ratio', max: 1.0 }, cpu: { ocipush: s.medianCpu('copy-ocipush'), anchor: s.medianCpu('copy-skopeo') } }));
  }
  if (s.all['mirror-ocipush']) {
    rows.push(makeRow({ id: 'mirror', step: `mirror a repository, ${options.mirrorTags} tags, ${options.rttMs} ms RTT`, unit: 's', ocipush: s.medianSeconds('mirror-ocipush'), anchorName: 'skopeo sync', anchor: s.medianSeconds('mirror-skopeo'), cpu: { ocipush: s.medianCpu('mirror-ocipush'), anchor: s.medianCpu('mirror-skopeo') } }));
  }
  for (const kind of anchorKinds) {
    rows.push(makeRow({ id: `build-vs-${kind}`, step: 'build: tree → layout', unit: 's', ocipush: build, anchorName: TAR_ANCHOR_NAMES[kind], anchor: s.medianSeconds(`anchor-${kind}`), cpu: { ocipush: s.medianCpu('ocipush-build'), anchor: s.medianCpu(`anchor-${kind}`) } }));
    if (kind !== 'sha256sum') {
      rows.push(makeRow({ id: `layer-size-vs-${kind}`, step: 'compressed layer size', unit: 'bytes', ocipush: s.medianBytes('ocipush-build'), anchorName: TAR_ANCHOR_NAMES[kind], anchor: s.medianBytes(`anchor-${kind}`) }));
    }
  }
  return rows;
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

function machineInfo() {
  const cpus = os.cpus();
  let distro: string | null = null;
  try {
    distro = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? null;
  } catch { /* not Linux */ }
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? null,
    memoryBytes: os.totalmem(),
    os: distro,
    kernel: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
  };
}

function toolVersions(withOcipush: boolean, node: string) {
  return {
    ocipush: withOcipush ? toolVersion(node, [CLI, '--version']) : null,
    // During development the version says little; the commit (and whether the tree had edits) does.
    ocipushCommit: withOcipush ? gitCommit() : null,
    umoci: toolVersion('umoci', ['--version']),
    skopeo: toolVersion('skopeo', ['--version']),
    dockerRegistry: toolVersion('docker-registry', ['--version']),
    tar: toolVersion('tar', ['--version']),
    gzip: toolVersion('gzip', ['--version']),
    pigz: toolVersion('pigz', ['--version']),
  };
}

function gitCommit(): string | null {
  const head = toolVersion('git', ['-C', REPO_ROOT, 'rev-parse', '--short=12', 'HEAD']);
  if (!head) return null;
  const status = spawnSync('git', ['-C', REPO_ROOT, 'status', '--porcelain', '--untracked-files=no', '--', 'src', 'bin'], { encoding: 'utf8' });
  return status.stdout?.trim() ? `${head}+edits` : head;
}

async function main(argv: string[]): Promise<number> {
  let options: BenchOptions | 'help';
  try {
    options = parseOptions(argv);
  } catch (err) {
    log(`${(err as Error).message} (see --help)`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  return run(options, argv);
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => { log((err as Error)?.message ?? String(err)); process.exitCode = 1; },
);
