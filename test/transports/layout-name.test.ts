import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { build, isOcipushError, pull, push } from '../../src/index.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { requireTool, run, tempDir } from '../support/tools.js';
import { skopeoRaw } from '../cli/copy-support.js';

/**
 * OCIPUSH_LAYOUT=oci:DIR, the CLI's default layout written as skopeo and oras name one, read by a
 * library call that names no `layout` as the CLI reads it: the directory DIR, not one called
 * `oci:DIR` under the current directory (which a build made and nothing else read).
 */
describe('OCIPUSH_LAYOUT=oci:DIR, read by the library calls', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let registry: RunningRegistry;
  const cwd = process.cwd();
  const saved = process.env.OCIPUSH_LAYOUT;
  /** The manifest digest skopeo reads for `oci:DIR:NAME`. */
  const ociDigest = (dir: string, name: string) => run('skopeo', ['inspect', '--format', '{{.Digest}}', `oci:${dir}:${name}`]).trim();

  before(async () => {
    requireTool('skopeo');
    tmp = await tempDir();
    registry = await startRegistry();
    mkdirSync(join(tmp.path, 'work', 'root'), { recursive: true });
    writeFileSync(join(tmp.path, 'work', 'root', 'hello'), 'hello\n');
    // Relative paths (the rootfs, a default layout gone astray) resolve in a directory of the test's own.
    process.chdir(join(tmp.path, 'work'));
  });
  after(async () => {
    process.chdir(cwd);
    if (saved === undefined) delete process.env.OCIPUSH_LAYOUT;
    else process.env.OCIPUSH_LAYOUT = saved;
    await registry?.stop();
    await tmp?.cleanup();
  });

  it('build writes into DIR, push sends from it and pull adds to it; nothing named oci:… appears', async () => {
    const dir = join(tmp.path, 'L');
    process.env.OCIPUSH_LAYOUT = `oci:${dir}`;
    const built = await build({ rootfs: 'root', tag: 'app' });
    assert.equal(ociDigest(dir, 'app'), built.digest);
    const pushed = await push({ tag: 'app', to: `${registry.host}/env/app:1` });
    assert.equal((await skopeoRaw(`${registry.host}/env/app:1`)).digest, built.digest);
    assert.equal(pushed.digest, built.digest);
    await pull({ from: `${registry.host}/env/app:1`, tag: 'again' });
    assert.equal(ociDigest(dir, 'again'), built.digest);
    assert.deepEqual(readdirSync('.'), ['root'], 'no directory named after the variable in the current directory');
  });

  it('a NAME in it: EUSAGE naming the variable and the `tag` option, nothing written', async () => {
    const dir = join(tmp.path, 'N');
    process.env.OCIPUSH_LAYOUT = `oci:${dir}:app`;
    const err = await build({ rootfs: 'root' }).then(() => undefined, (e: unknown) => e);
    assert.ok(isOcipushError(err), String(err));
    assert.equal(err.code, 'EUSAGE');
    assert.equal(err.message, `OCIPUSH_LAYOUT=oci:${dir}:app: the variable names a layout, not an image in it: OCIPUSH_LAYOUT=oci:${dir}, and the image with \`tag\` app`);
    assert.equal(existsSync(dir), false);
    assert.deepEqual(readdirSync('.'), ['root']);
    // A layout named by the call is the call's: the variable is not read.
    const named = await build({ rootfs: 'root', layout: join(tmp.path, 'named') });
    assert.equal(ociDigest(join(tmp.path, 'named'), 'latest'), named.digest);
  });
});
