import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OciLayout } from '../../src/content/layout.js';
import { collectGarbage } from '../../src/content/gc.js';
import { killOnExit } from '../support/exit-cleanup.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { CLI, tempDir } from '../support/tools.js';
import { pseudoRandom, readImage, umociUnpack, validateLayout } from '../assemble/support.js';
import { assertOk, runCliAsync } from './registry-support.js';

/**
 * gc and a copy or pull into the same layout at once. The layout holds a layer no image names any
 * more (its tag deleted, gc not run yet); a copy of an image with that layer finds it there and
 * skips it, then waits for its config (held back by a proxy). A gc run at that moment must not
 * sweep the layer the copy counts on: the copy is a writer from the moment it opened the layout.
 */
describe('gc while a copy or pull into the layout is running', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let registry: RunningRegistry;
  let proxy: FaultProxy;
  /** The layout with the image's layer alone, unreferenced. */
  let template: string;
  let image: ReturnType<typeof readImage>;

  before(async () => {
    tmp = await tempDir();
    registry = await startRegistry();
    proxy = await startFaultProxy({ target: registry.url });
    const rootfs = join(tmp.path, 'rootfs');
    mkdirSync(rootfs);
    writeFileSync(join(rootfs, 'data'), pseudoRandom(256 * 1024));
    template = join(tmp.path, 'template');
    assertOk(await runCliAsync(['build', rootfs, '--layout', template, '--tag', 'app']));
    assertOk(await runCliAsync(['push', `${registry.host}/gc/app:1`, '--layout', template, '--tag', 'app']));
    image = readImage(template, 'app');
    assertOk(await runCliAsync(['delete', `oci:${template}:app`]));
    rmSync(image.blob(image.digest));
    rmSync(image.blob(image.manifest.config.digest));
    rmSync(join(template, '.ocipush-remote-blobs.json'), { force: true });
  });
  after(async () => {
    await proxy?.stop();
    await registry?.stop();
    await tmp?.cleanup();
  });

  for (const verb of ['copy', 'pull'] as const) {
    it(`${verb}: gc waits for it (ELOCKED naming it when told not to wait), and the layer it found stays`, async () => {
      const dir = join(tmp.path, verb);
      cpSync(template, dir, { recursive: true });
      const layer = image.manifest.layers[0]!.digest;
      proxy.clearFaults();
      proxy.clearRequests();
      const config = image.manifest.config.digest;
      proxy.addFault({ method: 'GET', path: new RegExp(`/blobs/${config}$`), fault: { kind: 'hold-response', until: /release-held/, timeoutMs: 600_000 } });
      const args = verb === 'copy' ? ['copy', `${proxy.host}/gc/app:1`, `oci:${dir}:app`] : ['pull', `${proxy.host}/gc/app:1`, '--layout', dir, '--tag', 'app'];
      const child = spawn(process.execPath, [CLI, ...args, '-q'], { stdio: ['ignore', 'pipe', 'pipe'] });
      const forget = killOnExit(child);
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
      const done = new Promise<number | null>((resolve) => child.on('close', (status) => { forget(); resolve(status); }));
      // The copy has looked at the layout (the layer is there) and waits for the config.
      while (!proxy.requests().some((r) => r.method === 'GET' && r.path.endsWith(config))) {
        assert.equal(child.exitCode, null, stderr);
        await new Promise((r) => setTimeout(r, 20));
      }
      const layout = await OciLayout.open(dir);
      await assert.rejects(collectGarbage(layout, { waitMs: 0 }), (err: Error & { code?: string }) =>
        err.code === 'ELOCKED' && err.message.includes(`pid ${child.pid} on `));
      assert.ok(readdirSync(join(dir, 'blobs', 'sha256')).includes(layer.slice(7)), 'the layer the copy skipped is still there');
      await fetch(`${proxy.url}/release-held`).then((r) => r.arrayBuffer()).catch(() => {});
      assert.equal(await done, 0, stderr);
      // Now that the copy is done, gc finds nothing to remove, and the image is whole.
      assert.deepEqual((await collectGarbage(layout, { waitMs: 0 })).removed, []);
      await layout.close();
      validateLayout(dir);
      umociUnpack(dir, 'app', join(tmp.path, `${verb}-bundle`));
    });
  }
});
