import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { build, copy, isOcipushError, pull, push, validate } from '../../src/index.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { tempDir } from '../support/tools.js';

/**
 * A switch given as a string (`fast: process.env.FAST`, what a script reads from its
 * environment) was read as truthy: `fast: "false"` read no layer and reported an image with
 * changed layer bytes valid, `referrers: "false"` copied the referrers, `insecure: "true"` was not
 * insecure. Each is now one EUSAGE line naming the option, before any request.
 */

let tmp: { path: string; cleanup: () => Promise<void> };
let registry: RunningRegistry;
let layout: string;

async function usage(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  assert.ok(isOcipushError(err), `expected an OcipushError EUSAGE, got ${JSON.stringify(err)}`);
  assert.equal(err.code, 'EUSAGE', err.message);
  assert.match(err.message, pattern);
}

before(async () => {
  tmp = await tempDir('ocipush-lib-booleans-');
  registry = await startRegistry();
  const rootfs = join(tmp.path, 'rootfs');
  mkdirSync(rootfs);
  writeFileSync(join(rootfs, 'f'), 'hello '.repeat(1000));
  layout = join(tmp.path, 'layout');
  const built = await build({ rootfs, layout, tag: 'app', compression: 'none' });
  await push({ layout, tag: 'app', to: `${registry.host}/lib/app:1` });
  // The layer's bytes changed in place, its size kept: only a validate that reads the layer finds it.
  const blob = join(layout, 'blobs', 'sha256', built.layers[0]!.digest.slice('sha256:'.length));
  const bytes = readFileSync(blob);
  bytes[bytes.length - 2000] ^= 0xff;
  writeFileSync(blob, bytes);
});

after(async () => {
  await registry?.stop();
  await tmp?.cleanup();
});

test('validate: fast "false" is refused, not read as fast; fast false finds the changed layer', async () => {
  await usage(validate({ image: `oci:${layout}:app`, fast: 'false' as unknown as boolean }), /^validate: `fast` "false": expected true or false$/);
  const report = await validate({ image: `oci:${layout}:app`, fast: false });
  assert.equal(report.problems.length, 1, JSON.stringify(report.problems));
});

test('copy, pull: referrers, insecure, plainHttp and unlistedPlatform as strings are refused before any request', async () => {
  registry.clearAccessLog();
  const from = `${registry.host}/lib/app:1`;
  await usage(copy({ from, to: `${registry.host}/lib/copy:1`, referrers: 'false' as unknown as boolean }), /^copy: `referrers` "false": expected true or false$/);
  await usage(copy({ from, to: `${registry.host}/lib/copy:1`, insecure: 'true' as unknown as boolean }), /^copy: `insecure` "true": expected true or false$/);
  const into = join(tmp.path, 'pulled');
  await usage(pull({ from, layout: into, plainHttp: 1 as unknown as boolean }), /^pull: `plainHttp` 1: expected true or false$/);
  await usage(pull({ from, layout: into, platform: 'linux/amd64', unlistedPlatform: 'no' as unknown as boolean }), /^pull: `unlistedPlatform` "no": expected true or false$/);
  assert.deepEqual(registry.accessLog(), []);
  assert.equal(existsSync(into), false);
});
