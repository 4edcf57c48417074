import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, tempDir } from '../support/tools.js';
import { startRegistry } from '../support/registry.js';

/**
 * Build → SBOM → provenance → push → sign, then a promotion to another registry: the signature,
 * the attestation and the SBOM come along, and verify, verify-attestation and referrers pass there.
 */
test('copy carries the signature, the provenance and the SBOM to another registry, where they still verify', async () => {
  const tmp = await tempDir('ocipush-copy-signed-');
  const staging = await startRegistry();
  const production = await startRegistry();
  try {
    const env = { ...process.env, COSIGN_PASSWORD: 'release' };
    const ok = (args: string[]) => {
      const r = runCli(args, { env });
      assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
      return r;
    };
    ok(['generate-key-pair', '--output-prefix', join(tmp.path, 'release')]);
    const rootfs = join(tmp.path, 'rootfs');
    mkdirSync(join(rootfs, 'app'), { recursive: true });
    writeFileSync(join(rootfs, 'app', 'main.js'), 'console.log("release")\n');
    const layout = join(tmp.path, 'layout');
    ok(['build', rootfs, '--layout', layout, '--tag', 'app:1', '--sbom', '--provenance', '--key', join(tmp.path, 'release.key')]);
    ok(['push', `${staging.host}/team/app:1`, '--layout', layout, '--tag', 'app:1']);
    ok(['sign', `${staging.host}/team/app:1`, '--key', join(tmp.path, 'release.key')]);

    ok(['copy', `${staging.host}/team/app:1`, `${production.host}/prod/app:1`]);

    const pub = join(tmp.path, 'release.pub');
    ok(['verify', `${production.host}/prod/app:1`, '--key', pub]);
    ok(['verify-attestation', `${production.host}/prod/app:1`, '--key', pub, '--type', 'slsaprovenance1']);
    const referrers = ok(['referrers', `${production.host}/prod/app:1`, '--json']).stdout;
    assert.match(referrers, /application\/spdx\+json/);
    // And a copy without them carries none: verify fails there.
    ok(['copy', `${staging.host}/team/app:1`, `${production.host}/bare/app:1`, '--no-referrers']);
    assert.notEqual(runCli(['verify', `${production.host}/bare/app:1`, '--key', pub]).status, 0);
  } finally {
    await staging.stop();
    await production.stop();
    await tmp.cleanup();
  }
});
