import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildStaticHello } from '../archive/fixtures.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { runImage } from '../support/runc.js';
import { REPO_ROOT, requireTool, runCli, tempDir, validateLayout } from '../support/tools.js';
import { blobPath, build, layerListing, readImage, unpackedTree, writeTree } from './support.js';

/**
 * The two Dockerfiles the tutorials start from, built with no daemon: FROM scratch + a static
 * hello (runs with runc), and FROM a python-like base taken from a real registry (its layers
 * referenced, read once for its directories, never stored).
 */

const PATH_DEFAULT = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** sha256 of an empty tar (two zero blocks): the diff_id of a layer that changes nothing. */
const EMPTY_TAR_DIFF_ID = 'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef';

let tmp: { path: string; cleanup: () => Promise<void> };

before(async () => {
  tmp = await tempDir('ocipush-df-tutorial-');
});
after(async () => {
  await tmp?.cleanup();
});

describe('FROM scratch / COPY ./hello ./ / ENTRYPOINT ["./hello"] (examples/hello/Dockerfile)', () => {
  it('runs with runc and prints hello world; config and history are what docker build records', () => {
    const context = join(tmp.path, 'hello');
    mkdirSync(context);
    buildStaticHello(join(tmp.path, 'hello-src'));
    copyFileSync(join(tmp.path, 'hello-src', 'hello'), join(context, 'hello'));
    copyFileSync(join(REPO_ROOT, 'examples', 'hello', 'Dockerfile'), join(context, 'Dockerfile'));
    const layout = join(tmp.path, 'hello-layout');
    const built = build(context, layout, ['--tag', 'hello:0.1']);
    validateLayout(layout, 'hello:0.1');

    const { manifest, config } = readImage(layout, 'hello:0.1');
    assert.equal(manifest.layers.length, 1);
    assert.deepEqual(config.config, { Env: [PATH_DEFAULT], Entrypoint: ['./hello'], WorkingDir: '/' });
    assert.deepEqual(config.history, [
      { created: '1970-01-01T00:00:00Z', created_by: 'COPY ./hello ./ # buildkit', comment: 'buildkit.dockerfile.v0' },
      { created: '1970-01-01T00:00:00Z', created_by: 'ENTRYPOINT ["./hello"]', comment: 'buildkit.dockerfile.v0', empty_layer: true },
    ]);
    assert.deepEqual(built.layers.map((l) => l.createdBy), ['COPY ./hello ./ # buildkit']);
    // The layer holds the binary alone: owned by root (the context is sent as 0:0), its mode kept.
    assert.deepEqual(layerListing(layout, manifest.layers[0]!.digest), ['-rwxr-xr-x 0/0 hello']);

    const r = runImage(layout, 'hello:0.1');
    assert.equal(r.stderr, '');
    assert.equal(r.stdout, 'hello world\n');
    assert.equal(r.status, 0);
  });
});

describe('FROM <python base> / COPY . /public / WORKDIR /public / ENTRYPOINT ["python3", "-m", "http.server"]', () => {
  let registry: RunningRegistry;
  let baseRef: string;
  let baseLayer: string;
  let baseConfigDigest: string;
  const baseEnv = [
    'PATH=/usr/local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    'LANG=C.UTF-8',
    'PYTHON_VERSION=3.12.7',
  ];

  before(async () => {
    registry = await startRegistry();
    // A small stand-in for python:3: Debian's static busybox with a shell, python's Env and Cmd.
    const rootfs = join(tmp.path, 'python-rootfs');
    mkdirSync(join(rootfs, 'bin'), { recursive: true });
    mkdirSync(join(rootfs, 'usr', 'local', 'bin'), { recursive: true });
    copyFileSync(requireTool('busybox'), join(rootfs, 'bin', 'busybox'));
    for (const applet of ['sh', 'ls', 'pwd', 'cat', 'echo']) symlinkSync('busybox', join(rootfs, 'bin', applet));
    const baseLayout = join(tmp.path, 'python-base');
    const r = runCli(['build', rootfs, '--layout', baseLayout, '--tag', 'python', '--owner', '0:0', '--cmd', '["python3"]',
      ...baseEnv.flatMap((e) => ['--env', e]), '--json']);
    assert.equal(r.status, 0, r.stderr);
    const base = JSON.parse(r.stdout) as { layers: { digest: string }[]; config: { digest: string } };
    baseLayer = base.layers[0]!.digest;
    baseConfigDigest = base.config.digest;
    baseRef = `${registry.host}/python:3`;
    const pushed = runCli(['push', baseRef, '--layout', baseLayout, '--tag', 'python']);
    assert.equal(pushed.status, 0, pushed.stderr);
  });
  after(async () => {
    await registry?.stop();
  });

  it('builds onto the base, its layer read once for its directories and never stored: config, history, layers and files as docker build makes them; runs with runc', async () => {
    const context = join(tmp.path, 'site');
    writeTree(context, {
      Dockerfile: `FROM ${baseRef}\nCOPY . /public\nWORKDIR /public\nENTRYPOINT ["python3", "-m", "http.server"]\n`,
      '.dockerignore': '*.log\n!keep.log\nsecret.txt\n',
      'index.html': '<h1>hi</h1>\n',
      'css/site.css': 'h1 { color: red }\n',
      'debug.log': 'ignored\n',
      'keep.log': 'kept\n',
      'secret.txt': 'ignored\n',
    });
    const layout = join(tmp.path, 'site-layout');
    await registry.forgetAccessLog();
    const built = build(context, layout, ['--tag', 'site']);

    const blobGets = async () => (await registry.settledAccessLog()).filter((e) => e.method === 'GET' && e.path.includes('/blobs/')).map((e) => e.path);
    assert.deepEqual(await blobGets(), [`/v2/python/blobs/${baseConfigDigest}`, `/v2/python/blobs/${baseLayer}`]);
    assert.equal(existsSync(blobPath(layout, baseLayer)), false, 'the base layer is referenced, not stored');
    // The base's tree is kept in the layout: building again reads only the base's config.
    await registry.forgetAccessLog();
    assert.equal(build(context, layout, ['--tag', 'site-again', '--no-cache']).digest, built.digest);
    assert.deepEqual(await blobGets(), [`/v2/python/blobs/${baseConfigDigest}`]);
    assert.deepEqual(built.base, { reference: baseRef, digest: built.base!.digest, layers: 1 });

    const { manifest, config } = readImage(layout, 'site');
    assert.deepEqual(manifest.layers.map((l) => l.digest), [baseLayer, ...built.layers.map((l) => l.digest)]);
    assert.equal(manifest.annotations?.['org.opencontainers.image.base.name'], baseRef);
    // ENTRYPOINT drops the base's Cmd; WORKDIR sets the working directory; Env is the base's.
    assert.deepEqual(config.config, { Env: baseEnv, Entrypoint: ['python3', '-m', 'http.server'], WorkingDir: '/public' });
    assert.deepEqual(config.history.map((h) => [h.created_by, h.empty_layer ?? false]), [
      ['ocipush build (directory)', false],
      ['COPY . /public # buildkit', false],
      ['WORKDIR /public', false],
      ['ENTRYPOINT ["python3" "-m" "http.server"]', true],
    ]);
    assert.equal(config.rootfs.diff_ids.length, 3);
    // WORKDIR of a directory COPY made: BuildKit's mkdir changes nothing, an empty layer.
    assert.equal(config.rootfs.diff_ids[2], EMPTY_TAR_DIFF_ID);
    assert.deepEqual(layerListing(layout, built.layers[0]!.digest).map((l) => l.split(' ').slice(2).join(' ')), [
      'public/',
      'public/.dockerignore',
      'public/Dockerfile',
      'public/css/',
      'public/css/site.css',
      'public/index.html',
      'public/keep.log',
    ]);

    // The pushed image, pulled back whole, unpacks and runs: the base's files and the app's.
    const pushed = runCli(['push', `${registry.host}/site:1`, '--layout', layout, '--tag', 'site']);
    assert.equal(pushed.status, 0, pushed.stderr);
    const pulled = join(tmp.path, 'site-pulled');
    assert.equal(runCli(['pull', `${registry.host}/site:1`, '--layout', pulled, '--tag', 'site']).status, 0);
    validateLayout(pulled, 'site');
    const tree = unpackedTree(pulled, 'site', join(tmp.path, 'site-bundle'));
    assert.equal(tree['/public/'], 'dir 0755 0:0');
    assert.deepEqual(Object.keys(tree).filter((p) => p.startsWith('/public')), [
      '/public/', '/public/.dockerignore', '/public/Dockerfile', '/public/css/', '/public/css/site.css', '/public/index.html', '/public/keep.log',
    ]);
    const r = runImage(pulled, 'site', { args: ['sh', '-c', 'pwd; ls -A; cat index.html; echo "$LANG"'] });
    assert.equal(r.stderr, '');
    assert.equal(r.stdout, '/public\n.dockerignore\nDockerfile\ncss\nindex.html\nkeep.log\n<h1>hi</h1>\nC.UTF-8\n');
    assert.equal(r.status, 0);
  });
});
