import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RunningRegistry } from '../support/registry.js';
import { missingPath, opensslKeyPair, requireTool, runCli, tempDir } from '../support/tools.js';
import { skopeoTags, umociImage, type UmociImage } from '../registry/support.js';
import { registriesWithOwnLogins, assertOk, assertOneLineError } from './registry-support.js';
import { push } from '../../src/lib/index.js';

const ALICE = 'image-Secret-71c2';
const BOB = 'sigs-Secret-3e9d';

/**
 * COSIGN_REPOSITORY on another registry than the image's, both behind htpasswd (Basic) auth with
 * a user of their own: the image registry's --username/--password-stdin (or --dest-…) and
 * OCIPUSH_USERNAME/PASSWORD are for the image's host alone; the signatures' registry is reached
 * with its own login from the Docker config. Before, every writing verb (and sign, verify) sent
 * the image registry's user and password to the other host, which refused them (and learnt them).
 * Tags listed by skopeo with each registry's own credentials.
 */
describe('COSIGN_REPOSITORY on another registry: each host gets its own credentials', () => {
  let images: RunningRegistry;
  let sigs: RunningRegistry;
  let tmp: { path: string; cleanup: () => Promise<void> };
  let image: UmociImage;
  let key: string;
  let pub: string;
  let dockerConfig: string;
  let signedLayout: string;

  before(async () => {
    requireTool('openssl');
    requireTool('skopeo');
    tmp = await tempDir();
    // bob's login for the signatures' registry only: the image registry's comes from flags or the environment.
    ({ images, other: sigs, dockerConfig } = await registriesWithOwnLogins(tmp.path, { alice: ALICE, bob: BOB }));
    image = umociImage(tmp.path, 'one', [4_000]);
    ({ key, pub } = opensslKeyPair(tmp.path, 'signer'));
    // A layout signed offline, its signature for images.host/app/offline: push and copy carry it to COSIGN_REPOSITORY.
    const rootfs = join(tmp.path, 'rootfs');
    mkdirSync(rootfs, { recursive: true });
    writeFileSync(join(rootfs, 'hello.txt'), 'hello\n');
    signedLayout = join(tmp.path, 'signed');
    assertOk(runCli(['build', rootfs, '--layout', signedLayout, '--tag', 'app', '--sign', '--key', key, '--sign-container-identity', `${images.host}/app/offline`, '--quiet']));
  });
  after(async () => {
    await Promise.all([images?.stop(), sigs?.stop()]);
    await tmp?.cleanup();
  });

  /** Nothing of the caller's: the Docker config holds bob's login for the signatures' registry alone. */
  const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
    OCIPUSH_USERNAME: undefined, OCIPUSH_PASSWORD: undefined, OCIPUSH_REGISTRY_TOKEN: undefined, DOCKER_AUTH_CONFIG: undefined,
    DOCKER_CONFIG: dockerConfig, COSIGN_REPOSITORY: `${sigs.host}/sigs`, ...extra,
  });
  const aliceEnv = { OCIPUSH_USERNAME: 'alice', OCIPUSH_PASSWORD: ALICE };
  const sigTags = () => skopeoTags(`${sigs.host}/sigs`, { creds: `bob:${BOB}` });
  const imageTags = (repo: string) => skopeoTags(`${images.host}/${repo}`, { creds: `alice:${ALICE}` });
  const sigTag = (digest: string) => `${digest.replace(':', '-')}.sig`;
  const noSecret = (r: { stdout: string; stderr: string }) => assert.ok(![ALICE, BOB].some((s) => r.stdout.includes(s) || r.stderr.includes(s)), 'no password printed');

  it('push (--username, then OCIPUSH_USERNAME with --sign) and build --push --sign: the signature goes to COSIGN_REPOSITORY with bob\'s login', () => {
    const carried = runCli(['push', `${images.host}/app/offline:1`, '--layout', signedLayout, '--tag', 'app', '-u', 'alice', '--password-stdin', '--json'], { input: ALICE, env: env() });
    // Before: "authentication to <sigs> failed: username or password refused" (alice's password sent there), after the image went up.
    assertOk(carried);
    noSecret(carried);
    const digest = (JSON.parse(carried.stdout) as { digest: string }).digest;
    assert.deepEqual(imageTags('app/offline'), ['1']);
    assert.ok(sigTags().includes(sigTag(digest)), sigTags().join(' '));

    const signed = runCli(['push', `${images.host}/app/signed:1`, '--layout', image.layout, '--tag', 'one', '--sign', '--key', key], { env: env(aliceEnv) });
    assertOk(signed);
    assert.match(signed.stderr, new RegExp(`^signed ${images.host}/app/signed@${image.manifest.digest}: ${sigs.host}/sigs:${sigTag(image.manifest.digest)}$`, 'm'));
    assert.ok(sigTags().includes(sigTag(image.manifest.digest)));
    // verify reads it there, alice's login for the image, bob's for the signature.
    assertOk(runCli(['verify', `${images.host}/app/signed:1`, '--key', pub], { env: env(aliceEnv) }));
  });

  it('copy (--username shared, --dest-username, --sign) and sign: the signatures\' registry never gets alice\'s login', () => {
    assertOk(runCli(['push', `${images.host}/stage/app:1`, '--layout', image.layout, '--tag', 'one', '--quiet'], { env: env({ ...aliceEnv, COSIGN_REPOSITORY: undefined }) }));
    const promoted = runCli(['copy', `${images.host}/stage/app:1`, `${images.host}/prod/app:1`, '--username', 'alice', '--password-stdin', '--sign', '--key', key], { input: ALICE, env: env() });
    assertOk(promoted);
    noSecret(promoted);
    // The signature push --sign left in COSIGN_REPOSITORY, read there with bob's login and written beside the copy, as cosign copy does.
    assert.deepEqual(imageTags('prod/app'), ['1', sigTag(image.manifest.digest)]);

    const out = runCli(['copy', `oci:${signedLayout}:app`, `${images.host}/app/copied:1`, '--dest-username', 'alice', '--dest-password-stdin'], { input: ALICE, env: env() });
    assertOk(out);
    assert.match(out.stderr, new RegExp(`\\.sig in ${sigs.host}/sigs`));

    const resigned = runCli(['sign', `${images.host}/prod/app:1`, '--key', key, '-u', 'alice', '--password-stdin'], { input: ALICE, env: env() });
    assertOk(resigned);
    assert.match(resigned.stderr, new RegExp(`: ${sigs.host}/sigs:${sigTag(image.manifest.digest)}$`, 'm'));
    assertOk(runCli(['verify', `${images.host}/prod/app:1`, '--key', pub, '-u', 'alice', '--password-stdin'], { input: ALICE, env: env() }));
  });

  it('no login for the signatures\' registry: one line naming that registry, alice\'s password never tried there', () => {
    const r = runCli(['sign', `${images.host}/prod/app:1`, '--key', key, '-u', 'alice', '--password-stdin'], { input: ALICE, env: env({ DOCKER_CONFIG: missingPath('docker-config') }) });
    // Before: "authentication to <sigs> failed: username or password refused".
    assertOneLineError(r, new RegExp(`^ocipush: authentication required by ${sigs.host.replace(/\./g, '\\.')}: no credentials`));
    noSecret(r);
  });

  it('the library\'s push with signatureRepository: OCIPUSH_USERNAME/PASSWORD are the destination\'s alone', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, aliceEnv, { DOCKER_CONFIG: dockerConfig });
    try {
      const pushed = await push({ to: `${images.host}/lib/app:1`, layout: signedLayout, tag: 'app', signatureRepository: `${sigs.host}/sigs` });
      assert.ok(pushed.referrers.some((r) => r.tag === sigTag(pushed.digest) && r.storedIn === `${sigs.host}/sigs`), JSON.stringify(pushed.referrers));
    } finally {
      for (const name of ['OCIPUSH_USERNAME', 'OCIPUSH_PASSWORD', 'DOCKER_CONFIG']) {
        if (saved[name] === undefined) delete process.env[name];
        else process.env[name] = saved[name];
      }
    }
    assert.deepEqual(imageTags('lib/app'), ['1']);
  });
});
