import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { tempDir } from '../support/tools.js';
import { snapshotDir } from '../assemble/support.js';
import { assertOk, assertOneLineError, runCliAsync, startCli } from './registry-support.js';

let tmp: { path: string; cleanup: () => Promise<void> };
/** A layout whose image names a layer it does not hold (and no registry to fetch it from). */
let broken: string;
let layer: string;

before(async () => {
  tmp = await tempDir();
  const rootfs = join(tmp.path, 'rootfs');
  mkdirSync(rootfs);
  writeFileSync(join(rootfs, 'hello'), 'hello\n');
  broken = join(tmp.path, 'broken');
  assertOk(await runCliAsync(['build', rootfs, '--layout', broken, '--tag', 'app']));
  const index = JSON.parse(readFileSync(join(broken, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  const manifest = JSON.parse(readFileSync(join(broken, 'blobs', 'sha256', index.manifests[0]!.digest.slice(7)), 'utf8')) as { layers: { digest: string }[] };
  layer = manifest.layers[0]!.digest;
  rmSync(join(broken, 'blobs', 'sha256', layer.slice(7)));
});
after(async () => {
  await tmp?.cleanup();
});

describe('a copy into a layout that fails leaves no layout it made', () => {
  it('copy and mutate into a new directory: one line naming the missing blob, no directory left', async () => {
    for (const args of [['copy'], ['mutate', '--label', 'a=b']]) {
      const target = join(tmp.path, `new-${args[0]}`);
      const r = await runCliAsync([args[0]!, `oci:${broken}:app`, `oci:${target}:x`, ...args.slice(1), '-q']);
      assertOneLineError(r, new RegExp(`blob ${layer} is missing`));
      assert.equal(existsSync(target), false, `${args[0]} left ${target}`);
    }
  });

  it('copy into an existing empty directory leaves it empty; into a layout, leaves the layout as it was', async () => {
    const empty = join(tmp.path, 'empty');
    mkdirSync(empty);
    assertOneLineError(await runCliAsync(['copy', `oci:${broken}:app`, `oci:${empty}:x`, '-q']), /is missing/);
    assert.deepEqual(snapshotDir(empty), {});
    const before = snapshotDir(broken);
    assertOneLineError(await runCliAsync(['copy', `oci:${broken}:app`, `oci:${broken}:copy`, '-q']), /is missing/);
    assert.deepEqual(snapshotDir(broken), before);
  });
});

describe('Ctrl-C and SIGTERM mid-download into a new layout leave no layout', () => {
  let registry: RunningRegistry;
  let proxy: FaultProxy;

  before(async () => {
    registry = await startRegistry();
    proxy = await startFaultProxy({ target: registry.url });
    const rootfs = join(tmp.path, 'signal-rootfs');
    mkdirSync(rootfs);
    writeFileSync(join(rootfs, 'data'), 'x'.repeat(64 * 1024));
    const built = join(tmp.path, 'signal-built');
    assertOk(await runCliAsync(['build', rootfs, '--layout', built, '--tag', 'app']));
    assertOk(await runCliAsync(['push', `${registry.host}/sig/app:1`, '--layout', built, '--tag', 'app']));
  });
  after(async () => {
    await proxy?.stop();
    await registry?.stop();
  });

  /** Runs the CLI with every blob download held back; the signal goes once the first blob is asked for. */
  async function interruptedAtBlob(args: string[], signal: NodeJS.Signals) {
    proxy.clearFaults();
    proxy.clearRequests();
    proxy.addFault({ method: 'GET', path: /\/blobs\/sha256:/, times: Infinity, fault: { kind: 'hold-response', until: /release-held/, timeoutMs: 600_000 } });
    const { child, done } = startCli(args);
    // Until the first blob is asked for, or the command has ended without asking (its stderr then says why).
    while (child.exitCode === null && !proxy.requests().some((r) => r.method === 'GET' && r.path.includes('/blobs/sha256:'))) await new Promise((r) => setTimeout(r, 20));
    child.kill(signal);
    const result = await done;
    proxy.clearFaults();
    await fetch(`${proxy.url}/release-held`).then((r) => r.arrayBuffer()).catch(() => {});
    return result;
  }

  it('pull: SIGINT → 130, "left as it was" is true: the directory it made is gone', async () => {
    const target = join(tmp.path, 'sig-pulled');
    const r = await interruptedAtBlob(['pull', `${proxy.host}/sig/app:1`, '--layout', target], 'SIGINT');
    assert.equal(r.status, 130, r.stderr);
    assert.match(r.stderr, new RegExp(`interrupted by SIGINT; ${target} is left as it was\n$`));
    assert.equal(existsSync(target), false);
  });

  it('copy into oci:DIR: SIGTERM → 143, no layout made; an empty directory given stays empty', async () => {
    const target = join(tmp.path, 'sig-copied');
    const r = await interruptedAtBlob(['copy', `${proxy.host}/sig/app:1`, `oci:${target}:app`], 'SIGTERM');
    assert.equal(r.status, 143, r.stderr);
    assert.equal(existsSync(target), false);
    const empty = join(tmp.path, 'sig-empty');
    mkdirSync(empty);
    assert.equal((await interruptedAtBlob(['pull', `${proxy.host}/sig/app:1`, '--layout', empty], 'SIGINT')).status, 130);
    assert.deepEqual(snapshotDir(empty), {});
  });

  it('a layout that holds an image when the signal comes is left as it was', async () => {
    const target = join(tmp.path, 'sig-kept');
    assertOk(await runCliAsync(['build', join(tmp.path, 'rootfs'), '--layout', target, '--tag', 'other']));
    const before = snapshotDir(target);
    assert.equal((await interruptedAtBlob(['pull', `${proxy.host}/sig/app:1`, '--layout', target], 'SIGINT')).status, 130);
    assert.deepEqual(snapshotDir(target), before);
  });
});
