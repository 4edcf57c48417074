import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { build, isOcipushError, push, validate } from '../../src/index.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { tempDir } from '../support/tools.js';

/**
 * validate's and build's signal stop the call while the registry has not yet answered for a
 * manifest (the image's, the base's), as pull's and copy's do: before, the abort waited for that
 * answer (up to the request timeout, then the operation's retries), so a script's
 * AbortSignal.timeout did not bound them.
 */

let tmp: { path: string; cleanup: () => Promise<void> };
let registry: RunningRegistry;
let proxy: FaultProxy | undefined;
let baseProxy: FaultProxy | undefined;
let release: () => void = () => {};

before(async () => {
  tmp = await tempDir('ocipush-lib-validate-abort-');
  registry = await startRegistry();
  const rootfs = join(tmp.path, 'rootfs');
  mkdirSync(rootfs);
  writeFileSync(join(rootfs, 'f'), 'hello');
  await build({ rootfs, layout: join(tmp.path, 'layout'), tag: 'app' });
  await push({ layout: join(tmp.path, 'layout'), tag: 'app', to: `${registry.host}/lib/app:1` });
});

after(async () => {
  release();
  await proxy?.stop();
  await baseProxy?.stop();
  await registry?.stop();
  await tmp?.cleanup();
});

// Without the signal on the manifest's fetch the call never settles while the answer is held: the test's own timeout fails it.
test('validate aborted while the manifest request waits for its answer rejects with EABORTED, the answer still held', { timeout: 30_000 }, async () => {
  const controller = new AbortController();
  const held = new Promise<void>((resolve) => { release = resolve; });
  proxy = await startFaultProxy({
    target: registry.url,
    faults: [{ method: 'GET', path: /\/manifests\/1$/, fault: { kind: 'around', before: async () => { controller.abort(); await held; }, after: () => {} } }],
  });
  const err = await validate({ image: `${proxy.host}/lib/app:1`, signal: controller.signal }).then(() => undefined, (e: unknown) => e);
  release();
  assert.ok(isOcipushError(err), `expected an OcipushError, got ${String(err)}`);
  assert.equal(err.code, 'EABORTED', err.message);
  assert.equal(proxy.requests().filter((r) => /\/manifests\//.test(r.path)).length, 1);
});

test('build aborted while its base image\'s manifest request waits for its answer rejects with EABORTED, no layout made', { timeout: 30_000 }, async () => {
  const controller = new AbortController();
  let releaseBase: () => void = () => {};
  const held = new Promise<void>((resolve) => { releaseBase = resolve; });
  baseProxy = await startFaultProxy({
    target: registry.url,
    faults: [{ method: 'GET', path: /\/manifests\/1$/, fault: { kind: 'around', before: async () => { controller.abort(); await held; }, after: () => {} } }],
  });
  const into = join(tmp.path, 'on-base');
  const err = await build({ rootfs: join(tmp.path, 'rootfs'), base: `${baseProxy.host}/lib/app:1`, layout: into, signal: controller.signal }).then(() => undefined, (e: unknown) => e);
  releaseBase();
  assert.ok(isOcipushError(err), `expected an OcipushError, got ${String(err)}`);
  assert.equal(err.code, 'EABORTED', err.message);
  assert.equal(existsSync(into), false);
});
