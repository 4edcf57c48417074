import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { tempDir } from '../support/tools.js';
import { multiPlatformImage, skopeoRawManifest, type MultiPlatformImage } from '../registry/support.js';
import { assertOk, assertOneLineError, runCliAsync } from './registry-support.js';
import { envWith } from './copy-support.js';

let tmp: { path: string; cleanup: () => Promise<void> };
let multi: MultiPlatformImage;
let layout: string;
let registry: RunningRegistry;
const env = envWith();

before(async () => {
  tmp = await tempDir();
  layout = join(tmp.path, 'multi');
  multi = await multiPlatformImage(layout, 'multi');
  registry = await startRegistry();
});
after(async () => {
  await registry?.stop();
  await tmp?.cleanup();
});

describe('push --platform', () => {
  it('pushes one platform of an index in the layout: its manifest, under the tag', async () => {
    const arm = multi.manifests.find((m) => m.platform?.architecture === 'arm64')!;
    const r = await runCliAsync(['push', `${registry.host}/one/app:arm`, '--layout', layout, '--tag', 'multi', '--platform', 'linux/arm64'], { env });
    assertOk(r);
    assert.equal(r.stdout.trim(), arm.digest);
    assert.equal(skopeoRawManifest(`${registry.host}/one/app:arm`).digest, arm.digest);
  });

  it('a platform the index lacks: one line listing what it has', async () => {
    assertOneLineError(
      await runCliAsync(['push', `${registry.host}/one/app:s390x`, '--layout', layout, '--tag', 'multi', '--platform', 'linux/s390x'], { env }),
      /no manifest for linux\/s390x \(the index has: linux\/amd64, linux\/arm64\)$/,
    );
  });
});
