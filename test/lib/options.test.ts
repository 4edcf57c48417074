import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { build, isOcipushError, pull, push } from '../../src/index.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { requireTool, run, tempDir } from '../support/tools.js';
import { skopeoRaw } from '../cli/copy-support.js';

/**
 * `layout: 'oci:DIR[:NAME]'`, the CLI's `--layout oci:DIR[:NAME]` as an option (the options are
 * named and read as the flags are): the directory DIR, and NAME the call's `tag`, not a directory
 * called `oci:DIR` that build made and push and skopeo's `oci:DIR` never read.
 */
describe("layout: 'oci:DIR[:NAME]'", () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let registry: RunningRegistry;
  const cwd = process.cwd();
  const ociDigest = (name: string) => run('skopeo', ['inspect', '--format', '{{.Digest}}', `oci:${join(tmp.path, 'work', 'L')}:${name}`]).trim();

  before(async () => {
    requireTool('skopeo');
    tmp = await tempDir();
    registry = await startRegistry();
    mkdirSync(join(tmp.path, 'work', 'root'), { recursive: true });
    writeFileSync(join(tmp.path, 'work', 'root', 'hello'), 'hello\n');
    // `oci:L` is relative, as a script writes it: resolved in a directory of the test's own.
    process.chdir(join(tmp.path, 'work'));
  });
  after(async () => {
    process.chdir(cwd);
    await registry?.stop();
    await tmp?.cleanup();
  });

  it('build, push and pull read and write the directory DIR, and NAME is the tag', async () => {
    const built = await build({ rootfs: 'root', layout: 'oci:L:v1', credentials: false });
    assert.equal(built.tag, 'v1');
    assert.equal(ociDigest('v1'), built.digest);
    writeFileSync(join(tmp.path, 'work', 'root', 'two'), '2\n');
    const other = await build({ rootfs: 'root', layout: 'oci:L', tag: 'v2', credentials: false });
    assert.equal(ociDigest('v2'), other.digest);

    const pushed = await push({ layout: 'oci:L:v1', to: `${registry.host}/opt/app:1` });
    assert.equal(pushed.digest, built.digest);
    assert.equal((await skopeoRaw(`${registry.host}/opt/app:1`)).digest, built.digest);
    await pull({ from: `${registry.host}/opt/app:1`, layout: 'oci:L:pulled' });
    assert.equal(ociDigest('pulled'), built.digest);
    assert.deepEqual(readdirSync('.').sort(), ['L', 'root'], 'no directory named oci:L');
  });

  it('a tag that says another image: EUSAGE naming both options, nothing written', async () => {
    const err = await build({ rootfs: 'root', layout: 'oci:M:v1', tag: 'v2' }).then(() => undefined, (e: unknown) => e);
    assert.ok(isOcipushError(err), String(err));
    assert.equal(err.code, 'EUSAGE');
    assert.equal(err.message, 'build: `layout` oci:M:v1 and `tag` v2: name the image once');
    assert.equal(existsSync('M'), false);
    // From plain JavaScript: the option named, not a TypeError from deep inside.
    const number = await build({ rootfs: 'root', layout: 42 as unknown as string }).then(() => undefined, (e: unknown) => e);
    assert.ok(isOcipushError(number) && number.code === 'EUSAGE', String(number));
    assert.equal(number.message, 'build: `layout` 42: expected a string');
  });
});
