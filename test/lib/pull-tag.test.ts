import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { build, isOcipushError, pull, push } from '../../src/index.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { requireTool, tempDir } from '../support/tools.js';

/**
 * pull's `tag` is the name written into the layout's index.json: the library checks it against the
 * image-layout spec's grammar as the CLI's `pull --tag` does, before any request, instead of
 * writing a name (`bad tag`) the spec does not allow into a layout other tools then read.
 */

let tmp: { path: string; cleanup: () => Promise<void> };
let registry: RunningRegistry;
let source: string;

before(async () => {
  requireTool('skopeo');
  tmp = await tempDir('ocipush-lib-pull-tag-');
  registry = await startRegistry();
  const rootfs = join(tmp.path, 'rootfs');
  mkdirSync(rootfs);
  writeFileSync(join(rootfs, 'f'), 'hello');
  await build({ rootfs, layout: join(tmp.path, 'layout'), tag: 'app' });
  source = `${registry.host}/lib/app:1`;
  await push({ layout: join(tmp.path, 'layout'), tag: 'app', to: source });
});

after(async () => {
  await registry?.stop();
  await tmp?.cleanup();
});

test('pull refuses a tag outside the image-layout grammar with EUSAGE, as the CLI does, before any request and without making the layout', async () => {
  registry.clearAccessLog();
  for (const [tag, layout] of [['bad tag', undefined], [undefined, 'oci:DIR:bad tag'], ['-x', undefined]] as const) {
    const into = join(tmp.path, 'refused');
    const options = { from: source, layout: layout ? layout.replace('DIR', into) : into, ...(tag !== undefined ? { tag } : {}) };
    const err = await pull(options).then(() => undefined, (e: unknown) => e);
    assert.ok(isOcipushError(err), `expected an OcipushError, got ${String(err)}`);
    assert.equal(err.code, 'EUSAGE', err.message);
    assert.match(err.message, /^`tag` "(bad tag|-x)": not a valid name \(letters and digits, joined by - \. _ : @ \+ or \/\), e\.g\. latest or hello:0\.1$/);
    assert.equal(existsSync(into), false);
  }
  assert.deepEqual(registry.accessLog(), []);
});

test('a tag the grammar allows is written, and skopeo reads the image by it', async () => {
  const into = join(tmp.path, 'pulled');
  const pulled = await pull({ from: source, layout: into, tag: 'app/web_1.0-rc+1' });
  const { stdout } = await promisify(execFile)('skopeo', ['inspect', '--format', '{{.Digest}}', `oci:${into}:app/web_1.0-rc+1`], { encoding: 'utf8' });
  assert.equal(stdout.trim(), pulled.digest);
});
