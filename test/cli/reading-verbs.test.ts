import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { run, tempDir } from '../support/tools.js';
import { assertOk, runCliAsync } from './registry-support.js';
import { envWith } from './copy-support.js';

// README: reading verbs do not write into the layout. A layout built lazily onto a registry base
// (`build --base`, its base layer only recorded) is where a read is tempted to keep what it fetched.

let tmp: { path: string; cleanup: () => Promise<void> };
let registry: RunningRegistry;
let lazy: string;
let baseLayer: string;
const env = envWith();

/** Every entry under `dir` with its type, size, mode and mtime (ns), and index.json's bytes. */
function snapshot(dir: string): string {
  const lines: string[] = [];
  const walk = (path: string, rel: string): void => {
    const st = lstatSync(path, { bigint: true });
    lines.push(`${rel} ${st.isDirectory() ? 'd' : 'f'} ${st.size} ${st.mode.toString(8)} ${st.mtimeNs}`);
    if (st.isDirectory()) for (const name of readdirSync(path).sort()) walk(join(path, name), `${rel}/${name}`);
  };
  walk(dir, '.');
  return `${lines.join('\n')}\n${readFileSync(join(dir, 'index.json'), 'latin1')}`;
}

/** A copy of the lazy layout, and the path to read it at: a read-only bind mount of it with `readOnly`. */
function layoutCopy(t: TestContext, name: string, readOnly: boolean): { dir: string; at: string } | undefined {
  const dir = join(tmp.path, name);
  execFileSync('cp', ['-a', lazy, dir]);
  if (!readOnly) return { dir, at: dir };
  const at = `${dir}-ro`;
  mkdirSync(at);
  try {
    execFileSync('mount', ['--bind', dir, at], { stdio: 'pipe' });
  } catch {
    t.skip('cannot bind-mount here (needs root)');
    return undefined;
  }
  t.after(() => { try { execFileSync('umount', [at], { stdio: 'pipe' }); } catch { /* not mounted */ } });
  execFileSync('mount', ['-o', 'remount,bind,ro', at], { stdio: 'pipe' });
  return { dir, at };
}

before(async () => {
  tmp = await tempDir();
  registry = await startRegistry();
  const base = join(tmp.path, 'base-tree');
  mkdirSync(join(base, 'etc'), { recursive: true });
  writeFileSync(join(base, 'etc', 'base.conf'), 'from the base\n');
  const app = join(tmp.path, 'app-tree');
  mkdirSync(app);
  writeFileSync(join(app, 'app.txt'), 'the app\n');
  const baseLayout = join(tmp.path, 'base-layout');
  assertOk(await runCliAsync(['build', base, '--layout', baseLayout, '--tag', 'b', '-q'], { env }));
  assertOk(await runCliAsync(['push', `${registry.host}/lib/base:1`, '--layout', baseLayout, '--tag', 'b'], { env }));
  lazy = join(tmp.path, 'lazy');
  assertOk(await runCliAsync(['build', app, '--base', `${registry.host}/lib/base:1`, '--layout', lazy, '--tag', 'app', '-q'], { env }));
  const manifest = JSON.parse(readFileSync(join(lazy, 'blobs', 'sha256', JSON.parse(readFileSync(join(lazy, 'index.json'), 'utf8')).manifests[0].digest.slice(7)), 'utf8'));
  baseLayer = manifest.layers[0].digest;
  assert.throws(() => lstatSync(join(lazy, 'blobs', 'sha256', baseLayer.slice(7))), 'the build left the base layer in the registry');
});
after(async () => {
  await registry?.stop();
  await tmp?.cleanup();
});

/** The verbs that read a layout's image, each with what proves it read it all (the base layer's bytes from the registry). */
const verbs: { name: string; args: (at: string, out: string) => string[]; check: (out: string, stdout: string) => void | Promise<void>; metadataOnly?: boolean }[] = [
  {
    name: 'validate',
    args: (at) => ['validate', `oci:${at}:app`, '--json'],
    check: (_out, stdout) => assert.equal(JSON.parse(stdout).valid, true),
  },
  ...['inspect', 'config', 'manifest', 'digest', 'ls', 'referrers'].map((verb) => ({
    name: verb,
    args: (at: string) => [verb, `oci:${at}${verb === 'ls' ? '' : ':app'}`],
    // The image has no referrers: referrers prints none.
    check: (_out: string, stdout: string) => assert.ok(stdout.length > 0 || verb === 'referrers'),
    metadataOnly: true,
  })),
  {
    name: 'rootfs',
    args: (at, out) => ['rootfs', `oci:${at}:app`, '-o', out],
    check: (out) => assert.deepEqual(run('tar', ['-tf', out]).split('\n').filter((n) => n.endsWith('.conf') || n.endsWith('.txt')).sort(), ['app.txt', 'etc/base.conf']),
  },
  {
    name: 'sbom',
    args: (at, out) => ['sbom', `oci:${at}:app`, '-o', out],
    check: (out) => assert.deepEqual(JSON.parse(readFileSync(out, 'utf8')).files.map((f: { fileName: string }) => f.fileName).sort(), ['/app.txt', '/etc/base.conf']),
  },
  {
    name: 'export',
    args: (at, out) => ['export', `oci:${at}:app`, '-o', out],
    check: (out) => {
      // docker load's reader: skopeo takes the archive, the base layer's bytes are its digest.
      assert.equal(JSON.parse(run('skopeo', ['inspect', `docker-archive:${out}`])).Layers.length, 2);
      const layer = execFileSync('tar', ['-xOf', out, `blobs/sha256/${baseLayer.slice(7)}`]);
      assert.equal(`sha256:${createHash('sha256').update(layer).digest('hex')}`, baseLayer);
    },
  },
  // Not a reading verb, but its source is only read: a copy to an archive or another layout.
  {
    name: 'copy to an archive',
    args: (at, out) => ['copy', `oci:${at}:app`, `docker-archive:${out}`],
    check: (out) => assert.equal(JSON.parse(run('skopeo', ['inspect', `docker-archive:${out}`])).Layers.length, 2),
  },
  {
    name: 'copy to another layout',
    args: (at, out) => ['copy', `oci:${at}:app`, `oci:${out}:app`],
    check: (out) => {
      assert.equal(JSON.parse(run('skopeo', ['inspect', `oci:${out}:app`])).Layers.length, 2);
      const layer = readFileSync(join(out, 'blobs', 'sha256', baseLayer.slice(7)));
      assert.equal(`sha256:${createHash('sha256').update(layer).digest('hex')}`, baseLayer, 'the destination holds the base layer');
    },
  },
  {
    name: 'flatten --dry-run',
    args: (at) => ['flatten', `oci:${at}:app`, '--dry-run', '--json'],
    check: async (out, stdout) => {
      // The digest it would have is the one flatten writes (into another layout), a one-layer image to skopeo.
      const flat = `${out}-layout`;
      const from = `${out}-source`;
      execFileSync('cp', ['-a', lazy, from]);
      assertOk(await runCliAsync(['flatten', `oci:${from}:app`, `oci:${flat}:flat`], { env }));
      const written = JSON.parse(run('skopeo', ['inspect', `oci:${flat}:flat`]));
      assert.equal(written.Layers.length, 1);
      assert.equal(JSON.parse(stdout).digest, written.Digest);
    },
  },
];

describe('reading verbs leave a lazily built layout as it was', () => {
  for (const readOnly of [false, true]) {
    for (const verb of verbs) {
      it(`${verb.name} ${readOnly ? 'on a read-only mount of it works' : 'reads its base layer from the registry and keeps nothing'}`, async (t) => {
        const slug = `${verb.name.replace(/\W+/g, '-')}-${readOnly ? 'ro' : 'rw'}`;
        const copy = layoutCopy(t, slug, readOnly);
        if (!copy) return;
        const beforeRead = snapshot(copy.dir);
        const out = join(tmp.path, `${slug}.out`);
        await registry.forgetAccessLog();
        const r = await runCliAsync(verb.args(copy.at, out), { env });
        assertOk(r);
        const fetched = (await registry.settledAccessLog()).filter((e) => e.method === 'GET' && e.path.endsWith(`/blobs/${baseLayer}`) && e.status === 200);
        if (!verb.metadataOnly) assert.ok(fetched.length > 0, 'the base layer was read from the registry');
        await verb.check(out, r.stdout);
        assert.equal(snapshot(copy.dir), beforeRead, 'the layout is byte for byte as it was');
      });
    }
  }
});
