import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { requireTool, tempDir } from '../support/tools.js';
import { skopeoTags } from '../registry/support.js';
import { assertOk, assertOneLineError, runCliAsync } from './registry-support.js';
import { envWith, skopeoRaw } from './copy-support.js';

let tmp: { path: string; cleanup: () => Promise<void> };
let registry: RunningRegistry;
let single: string;
const env = envWith();

/** One linux/arm64 image (no index) in a registry. */
before(async () => {
  requireTool('skopeo');
  tmp = await tempDir('ocipush-sbom-platform-');
  registry = await startRegistry();
  const dir = join(tmp.path, 'arm64');
  mkdirSync(join(dir, 'etc'), { recursive: true });
  writeFileSync(join(dir, 'etc', 'arch'), 'arm64\n');
  const layout = join(tmp.path, 'layout');
  assertOk(await runCliAsync(['build', dir, '--layout', layout, '--tag', 'arm64', '--platform', 'linux/arm64'], { env }));
  single = `${registry.host}/sbom/arm64:1`;
  assertOk(await runCliAsync(['push', single, '--layout', layout, '--tag', 'arm64'], { env }));
});
after(async () => {
  await registry?.stop();
  await tmp?.cleanup();
});

describe('sbom --platform of one image (not an index)', () => {
  it('of another platform: refused in one line, as digest and pull refuse it; no file written, nothing attached', async () => {
    const refused = /is one image for linux\/arm64, not for linux\/amd64 \(--platform\)$/;
    const out = join(tmp.path, 'amd64.spdx.json');
    assertOneLineError(await runCliAsync(['sbom', single, '--platform', 'linux/amd64', '-o', out], { env }), refused);
    assert.ok(!existsSync(out), 'no SBOM written');
    assertOneLineError(await runCliAsync(['sbom', single, '--platform', 'linux/amd64', '--attach', '-o', out], { env }), refused);
    assert.deepEqual(skopeoTags(`${registry.host}/sbom/arm64`), ['1'], 'no SBOM referrer (nor its fallback tag) pushed');
  });

  it('of its own platform (arm64/v8 is arm64): the SBOM of that image', async () => {
    const digest = (await skopeoRaw(single)).digest;
    for (const platform of ['linux/arm64', 'linux/arm64/v8']) {
      const r = await runCliAsync(['sbom', single, '--platform', platform], { env });
      assertOk(r);
      const sbom = JSON.parse(r.stdout) as { packages: { versionInfo: string }[]; files: { fileName: string }[] };
      assert.equal(sbom.packages[0]!.versionInfo, digest);
      assert.ok(sbom.files.some((f) => f.fileName === '/etc/arch'));
    }
  });
});
