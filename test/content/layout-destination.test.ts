import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { tempDir } from '../support/tools.js';
import { snapshotDir } from '../assemble/support.js';
import { assertOk, assertOneLineError, runCliAsync } from '../cli/registry-support.js';

/**
 * A destination layout whose index.json cannot take the new tag (not JSON, or gone) is refused
 * before anything moves: as it is for a build, not after the whole image was downloaded into it.
 */
describe('a pull or copy into a layout whose index.json is damaged', () => {
  let registry: RunningRegistry;
  let tmp: { path: string; cleanup: () => Promise<void> };
  let source: string;

  before(async () => {
    tmp = await tempDir();
    registry = await startRegistry();
    const rootfs = join(tmp.path, 'rootfs');
    mkdirSync(rootfs);
    writeFileSync(join(rootfs, 'data'), randomBytes(256 * 1024));
    source = join(tmp.path, 'source');
    assertOk(await runCliAsync(['build', rootfs, '--layout', source, '--tag', 'app']));
    assertOk(await runCliAsync(['push', `${registry.host}/damaged/app:1`, '--layout', source, '--tag', 'app', '-q']));
  });
  after(async () => {
    await registry?.stop();
    await tmp?.cleanup();
  });

  const damages: [string, (dir: string) => void, RegExp][] = [
    ['not JSON', (dir) => writeFileSync(join(dir, 'index.json'), '{"schemaVersion":2,"manifests":['), /index\.json: corrupt layout \(index\.json is not valid JSON\)$/],
    ['missing', (dir) => rmSync(join(dir, 'index.json'), { force: true }), /: corrupt layout \(index\.json is missing\)$/],
  ];
  for (const [damage, apply, message] of damages) {
    it(`${damage}: pull and copy fail with one line naming it, download nothing and leave the layout as it was`, async () => {
      const dir = join(tmp.path, `dest-${damage.replace(/ /g, '-')}`);
      mkdirSync(dir);
      writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
      mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
      apply(dir);
      const before = snapshotDir(dir);
      for (const args of [
        ['pull', `${registry.host}/damaged/app:1`, `oci:${dir}:pulled`],
        ['copy', `${registry.host}/damaged/app:1`, `oci:${dir}:copied`],
        ['copy', `oci:${source}:app`, `oci:${dir}:copied`],
      ]) {
        await registry.forgetAccessLog();
        assertOneLineError(await runCliAsync([...args, '-q']), message);
        assert.deepEqual(snapshotDir(dir), before, `${args.join(' ')} left the layout as it was`);
        const blobs = (await registry.settledAccessLog()).filter((e) => e.method === 'GET' && e.path.includes('/blobs/'));
        assert.deepEqual(blobs, [], `${args.join(' ')} downloaded no blob`);
      }
    });
  }
});
