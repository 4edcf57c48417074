import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { opensslKeyPair, requireTool, run, runCli, tempDir } from '../support/tools.js';
import { skopeoTags, umociImage, type UmociImage } from '../registry/support.js';
import { assertOk, assertOneLineError } from './registry-support.js';
import { opensslVerifiedSignatures } from './signature-support.js';

/**
 * cosign's --sign-container-identity is a string slice (repeatable, each use comma-separated):
 * cmd/cosign/cli/sign/sign.go makes one payload per identity, each signed and appended to
 * sha256-<hex>.sig (its duplicate detector keeps a re-run from adding them again). Checked with
 * skopeo and openssl over the payloads stored.
 */
describe('sign --sign-container-identity a,b: one signature per repository named, as cosign', () => {
  let registry: RunningRegistry;
  let tmp: { path: string; cleanup: () => Promise<void> };
  let image: UmociImage;
  let key: string;
  let pub: string;

  before(async () => {
    requireTool('openssl');
    requireTool('skopeo');
    tmp = await tempDir();
    registry = await startRegistry();
    image = umociImage(tmp.path, 'one', [2_000]);
    ({ key, pub } = opensslKeyPair(tmp.path, 'signer'));
  });
  after(async () => {
    await registry?.stop();
    await tmp?.cleanup();
  });

  it('signs once for each repository (comma-separated and repeated alike), the digest printed once; a re-run adds none', () => {
    const ref = `${registry.host}/ids/app:1`;
    const digest = image.manifest.digest;
    assertOk(runCli(['push', ref, '--layout', image.layout, '--tag', 'one', '--quiet']));
    const names = ['mirror-a.example/app', 'mirror-b.example/team/app', 'mirror-c.example/app'];
    const args = ['sign', ref, '--key', key, '--sign-container-identity', `${names[0]},${names[1]}`, '--sign-container-identity', names[2]!];
    const signed = runCli(args);
    assertOk(signed);
    assert.equal(signed.stdout, `${digest}\n`);
    assert.match(signed.stderr, new RegExp(`signed ${registry.host}/ids/app@${digest} for mirror-b\\.example/team/app: `));
    for (const name of names) assert.equal(opensslVerifiedSignatures(registry.host, 'ids/app', digest, pub, tmp.path, name), 1, name);
    assertOk(runCli(args));
    const manifest = JSON.parse(run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/ids/app:${digest.replace(':', '-')}.sig`])) as { layers: unknown[] };
    assert.equal(manifest.layers.length, 3);
    assertOk(runCli(['verify', ref, '--key', pub]));
  });

  it('with --new-bundle-format, whose statement names the digest only, an identity is one line, not dropped unsaid; nothing written', () => {
    const ref = `${registry.host}/ids/bundle:1`;
    assertOk(runCli(['push', ref, '--layout', image.layout, '--tag', 'one', '--quiet']));
    assertOneLineError(runCli(['sign', ref, '--key', key, '--new-bundle-format', '--sign-container-identity', 'mirror.example/app']),
      /^ocipush: --sign-container-identity names the repository in a cosign \.sig payload; a --new-bundle-format signature names the digest only: give one of the two$/, 2);
    assert.deepEqual(skopeoTags(`${registry.host}/ids/bundle`), ['1']);
  });

  it('--sign of a verb that writes makes one signature: several repositories are one line, nothing pushed', () => {
    assertOneLineError(runCli(['push', `${registry.host}/ids/other:1`, '--layout', image.layout, '--tag', 'one', '--sign', '--key', key, '--sign-container-identity', 'a.example/app,b.example/app']),
      /^ocipush: --sign-container-identity a\.example\/app,b\.example\/app: --sign makes one signature, for one repository/, 2);
    assert.throws(() => run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/ids/other:1`]), /manifest unknown/);
  });
});
