import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildDockerfile, type DockerfileBuildOptions, type DockerfileBuildResult } from '../../src/index.js';
import { run, runCli, tempDir } from '../support/tools.js';
import { keepingMtime, pseudoRandom, umociUnpack, validateLayout } from '../assemble/support.js';
import { writeTree } from './support.js';

/**
 * The layout's layer cache serves the COPY/ADD layers of `build -f`: an unchanged context gives
 * every layer from the cache, byte for byte the cold build's, and every input that makes a
 * layer's bytes, changed, rebuilds that layer (and only it) into what a build from nothing gives.
 * As in test/layer/cache.test.ts, no test waits for files to age: the cache's wall clock is set
 * (`cacheClock`), a minute ahead (everything has aged) or stopped at a change (racy).
 */

const AGED = () => Date.now() + 60_000;
function justChanged(): () => number {
  const at = Date.now();
  return () => at;
}

interface Knobs { chown: string; dest: string }
const KNOBS: Knobs = { chown: '7:8', dest: '/app' };

function dockerfile(k: Knobs): string {
  return [
    'FROM scratch AS assets',
    'COPY shared/ /shared/',
    'FROM scratch',
    `COPY app ${k.dest}`,
    `COPY --chown=${k.chown} --chmod=640 conf/app.conf /etc/app.conf`,
    'ADD bundle.tar /opt/',
    'COPY --from=assets /shared /srv/shared',
    'COPY --link app/main.txt /linked/',
    '',
  ].join('\n');
}

/** Layers, in order: COPY app, COPY conf, ADD bundle.tar, COPY --from=assets, COPY --link. */
const LAYERS = 5;

let tmp: { path: string; cleanup: () => Promise<void> };
let ctx: string;
let counter = 0;
before(async () => {
  tmp = await tempDir('ocipush-df-cache-');
  ctx = join(tmp.path, 'ctx');
  writeTree(ctx, {
    Dockerfile: dockerfile(KNOBS),
    '.dockerignore': 'app/*.tmp\n',
    'app/main.txt': 'main 1\n',
    'app/skip.tmp': 'left out\n',
    'conf/app.conf': 'k=v\n',
    'shared/s.txt': 'shared 1\n',
    'bundle/x.txt': 'in the bundle\n',
  });
  writeFileSync(join(ctx, 'app', 'big.bin'), pseudoRandom(1024 * 1024 + 3));
  run('tar', ['-cf', join(ctx, 'bundle.tar'), '--mtime=@1000', '-C', join(ctx, 'bundle'), '.']);
});
after(async () => {
  await tmp?.cleanup();
});

function build(layout: string, extra: Partial<DockerfileBuildOptions> = {}): Promise<DockerfileBuildResult> {
  return buildDockerfile({ context: ctx, layout, tag: 't', created: 2_000_000_000, cacheClock: AGED, ...extra });
}

/** The image built from nothing into a new layout: what every cached build must equal. */
async function fresh(extra: Partial<DockerfileBuildOptions> = {}): Promise<DockerfileBuildResult> {
  return build(join(tmp.path, `fresh-${++counter}`), { ...extra, cache: false });
}

function sources(r: DockerfileBuildResult): string[] {
  return r.layers.map((l) => l.source);
}

/** Which layers were built (the rest came from the cache), as indexes. */
function builtIndexes(r: DockerfileBuildResult): number[] {
  return r.layers.flatMap((l, i) => (l.source === 'built' ? [i] : []));
}

describe('the layer cache with build -f', () => {
  it('an unchanged context: every layer from the cache, the same manifest as the cold build; --no-cache builds them all again', async () => {
    const layout = join(tmp.path, 'same');
    const cold = await build(layout);
    assert.equal(cold.layers.length, LAYERS);
    assert.deepEqual(sources(cold), Array(LAYERS).fill('built'));
    const again = await build(layout);
    assert.deepEqual(sources(again), Array(LAYERS).fill('local-cache'));
    assert.equal(again.digest, cold.digest);
    assert.deepEqual(again.layers.map((l) => [l.digest, l.diffId, l.size]), cold.layers.map((l) => [l.digest, l.diffId, l.size]));
    const bypass = await build(layout, { cache: false });
    assert.deepEqual(sources(bypass), Array(LAYERS).fill('built'));
    assert.equal(bypass.digest, cold.digest);
    assert.equal((await fresh()).digest, cold.digest);
    validateLayout(layout);
  });

  it('each input that makes a layer\'s bytes, changed, rebuilds that layer into what a cold build gives', async () => {
    const layout = join(tmp.path, 'changes');
    const base = await build(layout);
    let last = base;
    const expectRebuilt = async (what: string, layers: number[], extra: Partial<DockerfileBuildOptions> = {}) => {
      const r = await build(layout, extra);
      assert.deepEqual(builtIndexes(r), layers, `${what}: the layers rebuilt`);
      assert.equal(r.digest, (await fresh(extra)).digest, `${what}: the image as a cold build makes it`);
      assert.notEqual(r.digest, last.digest, `${what}: a different image`);
      last = r;
      assert.deepEqual(builtIndexes(await build(layout, extra)), [], `${what}: cached once built`);
    };

    // A file's content rewritten, same size and mtime: its ctime tells (as for `build DIR`).
    const main = join(ctx, 'app', 'main.txt');
    keepingMtime(main, tmp.path, () => writeFileSync(main, 'main 2\n'));
    await expectRebuilt('a context file rewritten', [0, 4]);
    // What .dockerignore leaves out.
    writeFileSync(join(ctx, '.dockerignore'), 'app/*.tmp\napp/big.bin\n');
    await expectRebuilt('.dockerignore', [0]);
    // --chown, then the destination (the Dockerfile's other lines keep their layers).
    writeFileSync(join(ctx, 'Dockerfile'), dockerfile({ ...KNOBS, chown: '9:8' }));
    await expectRebuilt('--chown', [1]);
    writeFileSync(join(ctx, 'Dockerfile'), dockerfile({ ...KNOBS, chown: '9:8', dest: '/application' }));
    await expectRebuilt('the destination', [0]);
    // The archive ADD unpacks, rewritten with the same headers (size, mtime put back): only a
    // file's bytes inside differ, which the plan (headers alone) cannot see.
    const bundle = join(ctx, 'bundle.tar');
    keepingMtime(bundle, tmp.path, () => {
      writeFileSync(join(ctx, 'bundle', 'x.txt'), 'IN THE BUNDLE\n');
      run('tar', ['-cf', bundle, '--mtime=@1000', '-C', join(ctx, 'bundle'), '.']);
    });
    await expectRebuilt('the ADD archive', [2]);
    // A file of the stage COPY --from copies.
    const shared = join(ctx, 'shared', 's.txt');
    keepingMtime(shared, tmp.path, () => writeFileSync(shared, 'shared 2\n'));
    await expectRebuilt('a file of the stage copied from', [3]);
    // The options that make the bytes: compression level, compression, clamp time.
    await expectRebuilt('--level', [0, 1, 2, 3, 4], { level: 9 });
    await expectRebuilt('--compression', [0, 1, 2, 3, 4], { compression: 'none' });
    await expectRebuilt('the clamp time (SOURCE_DATE_EPOCH)', [0, 1, 2, 3, 4], { created: undefined, sourceDateEpoch: '1000000' });
    validateLayout(layout);
  });

  it('a file changed within 2 s of the build is built but not recorded (racy), then cached once it has aged', async () => {
    const layout = join(tmp.path, 'racy');
    await build(layout);
    const conf = join(ctx, 'conf', 'app.conf');
    keepingMtime(conf, tmp.path, () => writeFileSync(conf, 'k=w\n'));
    const clock = justChanged();
    const r = await build(layout, { cacheClock: clock });
    assert.deepEqual(builtIndexes(r), [1]);
    assert.deepEqual(builtIndexes(await build(layout, { cacheClock: clock })), [1], 'not recorded while racy');
    assert.deepEqual(builtIndexes(await build(layout)), [1]);
    const cached = await build(layout);
    assert.deepEqual(builtIndexes(cached), []);
    assert.equal(cached.digest, r.digest);
  });

  it('a layer blob damaged in place (same size) is served by a hit; --no-cache writes it again', async () => {
    const layout = join(tmp.path, 'damaged');
    const cold = await build(layout);
    const blob = join(layout, 'blobs', 'sha256', cold.layers[0]!.digest.slice('sha256:'.length));
    const bytes = readFileSync(blob);
    bytes[bytes.length >> 1] ^= 0xff;
    writeFileSync(blob, bytes);
    assert.throws(() => validateLayout(layout), /digest|validation/, 'oci-image-tool sees the damage');
    const repaired = await build(layout, { cache: false });
    assert.equal(repaired.digest, cold.digest);
    validateLayout(layout);
    const warm = await build(layout);
    assert.deepEqual(sources(warm), Array(LAYERS).fill('local-cache'));
    validateLayout(layout);
  });

  it('a layout inside the context (./oci-layout with context .) is left out of it: rebuilds hit the cache and equal the cold build', async () => {
    const context = join(tmp.path, 'self');
    writeTree(context, { Dockerfile: 'FROM scratch\nCOPY . /app/\n', 'app.txt': 'hi\n' });
    const inside = join(context, 'oci-layout');
    const warnings: string[] = [];
    const opts = { context, tag: 't', created: 1_000_000, cacheClock: AGED, onWarning: (m: string) => { warnings.push(m); } };
    const first = await buildDockerfile({ ...opts, layout: inside });
    assert.deepEqual(sources(first), ['built']);
    assert.match(warnings[0] ?? '', /layout .*oci-layout is inside the build context .*: left out of the context/);
    const second = await buildDockerfile({ ...opts, layout: inside });
    assert.deepEqual(sources(second), ['local-cache'], 'the layout written by the first build is not an input of the second');
    assert.equal(second.digest, first.digest);
    // The image a build into a layout outside the context gives, from the context without the layout.
    const copy = join(tmp.path, 'self-copy');
    writeTree(copy, { Dockerfile: 'FROM scratch\nCOPY . /app/\n', 'app.txt': 'hi\n' });
    const cold = await buildDockerfile({ ...opts, context: copy, layout: join(tmp.path, 'self-cold') });
    assert.equal(cold.layers[0]!.digest, first.layers[0]!.digest);
    const rootfs = umociUnpack(inside, 't', join(tmp.path, 'self-bundle'));
    assert.deepEqual(readdirSync(join(rootfs, 'app')).sort(), ['Dockerfile', 'app.txt']);
  });

  it('ocipush build -f reports hits in --json (layers[].source) and --no-cache bypasses the cache', async () => {
    const layout = join(tmp.path, 'cli');
    const recorded = await build(layout);
    const cli = (extra: string[]) => {
      const r = runCli(['build', '-f', join(ctx, 'Dockerfile'), ctx, '--layout', layout, '--tag', 't', '--created', '2000000000', '--json', ...extra]);
      assert.equal(r.status, 0, r.stderr);
      return { json: JSON.parse(r.stdout) as { digest: string; layers: { source: string }[] }, stderr: r.stderr };
    };
    const hit = cli([]);
    assert.deepEqual(hit.json.layers.map((l) => l.source), Array(LAYERS).fill('local-cache'));
    assert.equal(hit.json.digest, recorded.digest);
    assert.match(hit.stderr, /from the layer cache/);
    const bypass = cli(['--no-cache']);
    assert.deepEqual(bypass.json.layers.map((l) => l.source), Array(LAYERS).fill('built'));
    assert.equal(bypass.json.digest, recorded.digest);
  });
});
