import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { missingPath, requireTool, tempDir } from '../support/tools.js';
import { umociImage, type UmociImage } from '../registry/support.js';
import { opensslVerifiedSignatures as verifiedSignatures } from './signature-support.js';
import { assertOk, assertOneLineError, runCliAsync } from './registry-support.js';
import { skopeoFails, skopeoRaw } from './copy-support.js';
import { validate } from './json-schema.js';

let registry: RunningRegistry;
let tmp: { path: string; cleanup: () => Promise<void> };
let image: UmociImage;
let key: string;
let pub: string;
const env = { COSIGN_PASSWORD: 'sign-on-write-pw', OCIPUSH_USERNAME: undefined, OCIPUSH_PASSWORD: undefined, DOCKER_CONFIG: missingPath('docker-config') };

before(async () => {
  requireTool('openssl');
  requireTool('skopeo');
  tmp = await tempDir();
  registry = await startRegistry();
  image = umociImage(tmp.path, 'one', [10_000]);
  assertOk(await runCliAsync(['generate-key-pair', '--output-prefix', join(tmp.path, 'k')], { env }));
  [key, pub] = [join(tmp.path, 'k.key'), join(tmp.path, 'k.pub')];
});
after(async () => {
  await registry?.stop();
  await tmp?.cleanup();
});

/** The signatures for `digest` in `repo` of the test registry that openssl verifies with the test key. */
function opensslVerifiedSignatures(repo: string, digest: string): number {
  return verifiedSignatures(registry.host, repo, digest, pub, tmp.path);
}

describe('--sign on the verbs that write an image into a registry', () => {
  it('push --sign signs the digest it pushed, after the push', async () => {
    const r = await runCliAsync(['push', `${registry.host}/signed/app:1`, '--layout', image.layout, '--tag', 'one', '--sign', '--key', key, '--json'], { env });
    assertOk(r);
    const out = JSON.parse(r.stdout) as { digest: string; signatures: { digest: string; tag: string }[] };
    assert.deepEqual(validate('push.schema.json', out), []);
    assert.equal(out.digest, (await skopeoRaw(`${registry.host}/signed/app:1`)).digest);
    assert.deepEqual(out.signatures.map((s) => s.digest), [out.digest]);
    assert.equal(opensslVerifiedSignatures('signed/app', out.digest), 1);
    assert.doesNotMatch(r.stdout + r.stderr, /sign-on-write-pw|PRIVATE/);
    assert.match(r.stderr, /^pushed .*\n^signed .*\.sig\n$/m);
  });

  it('copy --sign promotes and signs in the destination, beside the signature the image came with', async () => {
    const r = await runCliAsync(['copy', `${registry.host}/signed/app:1`, `${registry.host}/prod/app:1`, '--sign', '--key', key, '--json'], { env });
    assertOk(r);
    const out = JSON.parse(r.stdout) as { digest: string };
    assert.deepEqual(validate('copy.schema.json', out), []);
    // The staging signature came along (it names signed/app); the new one names prod/app.
    assert.equal(opensslVerifiedSignatures('prod/app', out.digest), 1);
  });

  it('mutate --sign and rebase --sign sign the new digest (the old image\'s signatures are not its own)', async () => {
    const mutated = await runCliAsync(['mutate', `${registry.host}/signed/app:1`, '--label', 'rev=1', '--sign', '--key', key, '--json'], { env });
    assertOk(mutated);
    const m = JSON.parse(mutated.stdout) as { digest: string; previous: string };
    assert.deepEqual(validate('mutate.schema.json', m), []);
    assert.notEqual(m.digest, m.previous);
    assert.equal(opensslVerifiedSignatures('signed/app', m.digest), 1);
    const rebased = await runCliAsync(['rebase', `${registry.host}/signed/app:1`, `${registry.host}/signed/rebased:1`, '--old-base', `${registry.host}/signed/app@${m.previous}`, '--new-base', `${registry.host}/signed/app@${m.previous}`, '--sign', '--key', key, '--json'], { env });
    assertOk(rebased);
    assert.deepEqual(validate('rebase.schema.json', JSON.parse(rebased.stdout)), []);
  });

  it('copy --all-tags --sign signs each image it mirrors once, by digest; a second tag of one image is only named', async () => {
    assertOk(await runCliAsync(['copy', `${registry.host}/signed/app:1`, `${registry.host}/mirror-src/app:1`], { env }));
    assertOk(await runCliAsync(['copy', `${registry.host}/signed/app:1`, `${registry.host}/mirror-src/app:latest`], { env }));
    assertOk(await runCliAsync(['mutate', `${registry.host}/signed/app:1`, `${registry.host}/mirror-src/app:2`, '--label', 'second=yes'], { env }));
    const r = await runCliAsync(['copy', '--all-tags', `${registry.host}/mirror-src/app`, `${registry.host}/mirror-dst/app`, '--sign', '--key', key, '--json'], { env });
    assertOk(r);
    const out = JSON.parse(r.stdout) as { images: { tag: string; digest: string; signatures?: { digest: string }[] }[] };
    assert.deepEqual(validate('copy-all-tags.schema.json', out), []);
    // In the order the registry lists the tags: of `1` and `latest` (one image), the first copied is signed.
    const byTag = new Map(out.images.map((i) => [i.tag, i]));
    assert.equal(byTag.get('1')!.digest, byTag.get('latest')!.digest);
    const signed = out.images.filter((i) => i.signatures).map((i) => i.tag).sort();
    assert.ok(signed.length === 2 && signed.includes('2'), `signed: ${signed.join(', ')}`);
    for (const image of out.images.filter((i) => i.signatures)) {
      assert.deepEqual(image.signatures!.map((s) => s.digest), [image.digest]);
      assert.equal(opensslVerifiedSignatures('mirror-dst/app', image.digest), 1);
    }
    assert.equal((r.stderr.match(/^signed /gm) ?? []).length, 2);
  });

  it('--sign-container-identity: into a layout (copy, mutate in place, index create), offline; a later push carries it; in a registry (copy, push) it names another repository', async () => {
    const identity = 'registry.example.com/prod/app';
    const bundle = join(tmp.path, 'bundle');
    const copied = await runCliAsync(['copy', `${registry.host}/signed/app:1`, `oci:${bundle}:app`, '--sign', '--key', key, '--sign-container-identity', identity, '--json'], { env });
    assertOk(copied);
    const out = JSON.parse(copied.stdout) as { digest: string; signatures: { digest: string; tag: string }[] };
    assert.deepEqual(validate('copy.schema.json', out), []);
    assert.deepEqual(out.signatures.map((s) => [s.digest, s.tag]), [[out.digest, `${out.digest.replace(':', '-')}.sig`]]);
    assert.match(copied.stderr, /^signed oci:.*bundle:app@sha256:[0-9a-f]{64} for registry\.example\.com\/prod\/app \(sha256-[0-9a-f]{64}\.sig in the layout\)$/m);
    assertOk(await runCliAsync(['verify', `oci:${bundle}:app`, '--key', pub], { env }));
    // The signature the copy brought from signed/app and the new one, both carried by a push.
    assertOk(await runCliAsync(['push', `oci:${bundle}:app`, `${registry.host}/from-bundle/app:1`], { env }));
    assert.equal(verifiedSignatures(registry.host, 'from-bundle/app', out.digest, pub, tmp.path, identity), 1);
    assert.equal(verifiedSignatures(registry.host, 'from-bundle/app', out.digest, pub, tmp.path, `${registry.host}/signed/app`), 1);
    // mutate in place in the layout: the new digest signed there.
    const mutated = await runCliAsync(['mutate', `oci:${bundle}:app`, '--label', 'bundle=yes', '--sign', '--key', key, '--sign-container-identity', identity, '--json'], { env });
    assertOk(mutated);
    const m = JSON.parse(mutated.stdout) as { digest: string; signatures: { digest: string }[] };
    assert.deepEqual(validate('mutate.schema.json', m), []);
    assert.deepEqual(m.signatures.map((s) => s.digest), [m.digest]);
    assertOk(await runCliAsync(['verify', `oci:${bundle}:app`, '--key', pub], { env }));
    // index create in the layout.
    const indexed = await runCliAsync(['index', 'create', '--layout', bundle, '--tag', 'multi', 'app', '--sign', '--key', key, '--sign-container-identity', identity, '--json'], { env });
    assertOk(indexed);
    const ix = JSON.parse(indexed.stdout) as { digest: string; signatures: { digest: string }[] };
    assert.deepEqual(validate('index.schema.json', ix), []);
    assert.deepEqual(ix.signatures.map((s) => s.digest), [ix.digest]);
    assertOk(await runCliAsync(['verify', `oci:${bundle}:multi`, '--key', pub], { env }));
    // A registry destination: the payload names the identity, not the repository written to.
    const staged = await runCliAsync(['copy', `${registry.host}/signed/app:1`, `${registry.host}/staging/app:1`, '--sign', '--key', key, '--sign-container-identity', identity, '--json'], { env });
    assertOk(staged);
    assert.equal(verifiedSignatures(registry.host, 'staging/app', (JSON.parse(staged.stdout) as { digest: string }).digest, pub, tmp.path, identity), 1);
    // push too.
    const pushed = await runCliAsync(['push', `${registry.host}/staging/pushed:1`, '--layout', image.layout, '--tag', 'one', '--sign', '--key', key, '--sign-container-identity', identity, '--json'], { env });
    assertOk(pushed);
    const p = JSON.parse(pushed.stdout) as { digest: string };
    assert.deepEqual(validate('push.schema.json', p), []);
    assert.equal(verifiedSignatures(registry.host, 'staging/pushed', p.digest, pub, tmp.path, identity), 1);
    assert.equal(verifiedSignatures(registry.host, 'staging/pushed', p.digest, pub, tmp.path), 0, 'not for the repository written to');
  });

  it('a key that does not open, or --sign where no registry is written, stops the command before anything is written', async () => {
    await registry.forgetAccessLog();
    assertOneLineError(
      await runCliAsync(['push', `${registry.host}/signed/never:1`, '--layout', image.layout, '--tag', 'one', '--sign', '--key', key], { env: { ...env, COSIGN_PASSWORD: 'wrong' } }),
      /^ocipush: .*k\.key: cannot decrypt the private key: wrong password/,
    );
    assertOneLineError(await runCliAsync(['push', `${registry.host}/signed/never:1`, '--layout', image.layout, '--tag', 'one', '--sign'], { env }), /^ocipush: --sign needs --key/, 2);
    assertOneLineError(await runCliAsync(['push', `${registry.host}/signed/never:1`, '--layout', image.layout, '--tag', 'one', '--key', key], { env }), /^ocipush: --key goes with --sign/, 2);
    assertOneLineError(await runCliAsync(['copy', `${registry.host}/signed/app:1`, `oci:${join(tmp.path, 'out')}`, '--sign', '--key', key], { env }), /^ocipush: --sign: oci:.*out is a layout, and a signature names the repository it is for: give it with --sign-container-identity/, 2);
    assertOneLineError(await runCliAsync(['copy', `${registry.host}/signed/app:1`, `docker-archive:${join(tmp.path, 'out.tar')}`, '--sign', '--key', key, '--sign-container-identity', 'reg.example/app'], { env }), /^ocipush: --sign: docker-archive:.*out\.tar is an archive/, 2);
    assertOneLineError(await runCliAsync(['copy', `${registry.host}/signed/app:1`, `${registry.host}/signed/never:1`, '--sign-container-identity', 'reg.example/app'], { env }), /^ocipush: --sign-container-identity goes with --sign/, 2);
    assertOneLineError(await runCliAsync(['mutate', `${registry.host}/signed/app:1`, '--label', 'a=b', '--sign', '--key', key], { env: { ...env, COSIGN_PASSWORD: 'wrong' } }), /wrong password/);
    assert.deepEqual((await registry.settledAccessLog()).filter((e) => e.method !== 'GET' && e.method !== 'HEAD'), []);
    assert.ok(await skopeoFails(`${registry.host}/signed/never:1`));
  });
});
