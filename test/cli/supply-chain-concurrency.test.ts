import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { opensslKeyPair, requireTool, tempDir } from '../support/tools.js';
import { umociImage, type UmociImage } from '../registry/support.js';
import { assertOk, runCliAsync } from './registry-support.js';
import { envWith } from './copy-support.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { opensslVerifiedSignatures } from './signature-support.js';

const env = envWith();

/**
 * `--concurrency 1` of the verbs that store signatures, attestations and SBOMs (a registry or a
 * proxy in front of it that takes one upload at a time): a proxy in front of the real registry
 * counts the uploads open at once, from a POST reaching it until the registry answered the PUT
 * that closes it, as artifact push's test does.
 */
describe('sign, attest, sbom --attach and --sign keep to --concurrency 1', () => {
  let registry: RunningRegistry;
  let proxy: FaultProxy;
  let tmp: { path: string; cleanup: () => Promise<void> };
  let image: UmociImage;
  let key: string;
  let pub: string;
  let open = 0;
  let most = 0;
  let uploads = 0;

  before(async () => {
    requireTool('openssl');
    tmp = await tempDir();
    registry = await startRegistry();
    image = umociImage(tmp.path, 'one', [2_000]);
    ({ key, pub } = opensslKeyPair(tmp.path, 'signer'));
    proxy = await startFaultProxy({
      target: registry.url,
      faults: [
        { method: 'POST', path: /\/blobs\/uploads\/$/, times: Infinity, fault: { kind: 'around', before: () => { uploads++; most = Math.max(most, ++open); }, after: () => {} } },
        { method: 'PUT', path: /\/blobs\/uploads\/.*digest=/, times: Infinity, fault: { kind: 'around', before: () => {}, after: () => { open--; } } },
      ],
    });
  });
  after(async () => {
    await proxy?.stop();
    await registry?.stop();
    await tmp?.cleanup();
  });

  /** The image pushed straight to the registry, in a repository of its own (none of the blobs a verb sends is there yet). */
  async function pushed(repo: string): Promise<string> {
    assertOk(await runCliAsync(['push', `${registry.host}/${repo}:1`, '--layout', image.layout, '--tag', 'one', '--quiet'], { env }));
    return `${proxy.host}/${repo}:1`;
  }

  /** Runs `args` through the proxy: how many uploads it saw, and the most open at once. */
  async function counted(args: string[]): Promise<[number, number]> {
    [open, most, uploads] = [0, 0, 0];
    assertOk(await runCliAsync(args, { env }));
    return [uploads, most];
  }

  it('sign --concurrency 1 sends the payload, then the .sig config; openssl checks the signature', async () => {
    const ref = await pushed('cc/sign');
    assert.deepEqual(await counted(['sign', ref, '--key', key, '--concurrency', '1']), [2, 1]);
    assert.equal(opensslVerifiedSignatures(registry.host, 'cc/sign', image.manifest.digest, pub, tmp.path, `${proxy.host}/cc/sign`), 1);
  });

  it('sign --new-bundle-format --concurrency 1 sends the bundle and the empty config one at a time', async () => {
    const ref = await pushed('cc/bundle');
    assert.deepEqual(await counted(['sign', ref, '--key', key, '--new-bundle-format', '--concurrency', '1']), [2, 1]);
  });

  it('attest --concurrency 1, to .att and as a referrer, and with --new-bundle-format', async () => {
    const predicate = join(tmp.path, 'predicate.json');
    writeFileSync(predicate, '{"builder":"ci"}');
    const ref = await pushed('cc/attest');
    // The envelope, the .att config, then the referrer's empty config (its layer is the envelope, there already).
    assert.deepEqual(await counted(['attest', ref, '--key', key, '--type', 'https://example.com/p', '--predicate', predicate, '--concurrency', '1']), [3, 1]);
    const bundled = await pushed('cc/attest-bundle');
    assert.deepEqual(await counted(['attest', bundled, '--key', key, '--type', 'https://example.com/p', '--predicate', predicate, '--new-bundle-format', '--concurrency', '1']), [2, 1]);
  });

  it('sbom --attach --concurrency 1 sends the SBOM and the empty config one at a time', async () => {
    const ref = await pushed('cc/sbom');
    assert.deepEqual(await counted(['sbom', ref, '--attach', '-o', join(tmp.path, 'sbom.json'), '--concurrency', '1']), [2, 1]);
  });

  it('copy --sign and push --sign --concurrency 1: the image\'s blobs and the signature\'s, one at a time', async () => {
    const source = `${registry.host}/cc/source:1`;
    assertOk(await runCliAsync(['push', source, '--layout', image.layout, '--tag', 'one', '--quiet'], { env }));
    const copied = await counted(['copy', source, `${proxy.host}/cc/copied:1`, '--sign', '--key', key, '--concurrency', '1']);
    assert.equal(copied[1], 1);
    assert.equal(opensslVerifiedSignatures(registry.host, 'cc/copied', image.manifest.digest, pub, tmp.path, `${proxy.host}/cc/copied`), 1);
    const pushedSigned = await counted(['push', `${proxy.host}/cc/pushed:1`, '--layout', image.layout, '--tag', 'one', '--sign', '--key', key, '--concurrency', '1']);
    assert.equal(pushedSigned[1], 1);
    assert.equal(opensslVerifiedSignatures(registry.host, 'cc/pushed', image.manifest.digest, pub, tmp.path, `${proxy.host}/cc/pushed`), 1);
  });
});
