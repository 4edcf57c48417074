import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { nonLoopbackAddress, relay, type Relay } from '../support/relay.js';
import { missingPath, tempDir } from '../support/tools.js';
import { MiB, skopeoDigest, umociImage, type UmociImage } from '../registry/support.js';
import { assertOk, assertOneLineError, runCliAsync } from './registry-support.js';

const PASSWORD = 'remote-Secret-93c1';

const env = { OCIPUSH_USERNAME: undefined, OCIPUSH_PASSWORD: undefined, OCIPUSH_REGISTRY_TOKEN: undefined, DOCKER_CONFIG: missingPath('docker-config') };

/**
 * The registry is reached through this machine's own non-loopback address, so ocipush treats it
 * as a remote host: HTTPS by default, plain HTTP only when asked, and no password in clear text.
 */
describe('push to a registry on a non-loopback address', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let image: UmociImage;
  let open: RunningRegistry;
  let locked: RunningRegistry;
  let openRelay: Relay;
  let lockedRelay: Relay;
  let address: string;

  before(async () => {
    address = nonLoopbackAddress();
    tmp = await tempDir();
    image = umociImage(tmp.path, 'v1', [1.5 * MiB]);
    open = await startRegistry();
    locked = await startRegistry({ auth: { htpasswd: { users: { alice: PASSWORD } } } });
    openRelay = await relay(address, open.port);
    lockedRelay = await relay(address, locked.port);
  });
  after(async () => {
    await openRelay?.close();
    await lockedRelay?.close();
    await open?.stop();
    await locked?.stop();
    await tmp?.cleanup();
  });

  it('speaks HTTPS by default and says what to do when the registry is plain HTTP', async () => {
    const r = await runCliAsync(['push', `${address}:${openRelay.port}/remote/app:1`, '--layout', image.layout], { env });
    assertOneLineError(r, /^ocipush: cannot reach [\d.]+:\d+: TLS handshake failed \(is it a plain HTTP registry\? use --plain-http\)$/);
    const log = await open.settledAccessLog();
    assert.deepEqual(log.filter((e) => e.uri.startsWith('/v2/remote/')), [], 'nothing reached the registry');
  });

  it('--plain-http pushes it; skopeo sees the same digest', async () => {
    const r = await runCliAsync(['push', `${address}:${openRelay.port}/remote/app:1`, '--layout', image.layout, '--plain-http'], { env });
    assertOk(r);
    assert.equal(r.stdout.trim(), image.manifest.digest);
    assert.equal(skopeoDigest(`${open.host}/remote/app:1`), image.manifest.digest);
  });

  it('--insecure finds the plain HTTP on its own (HTTPS asked first), as crane --insecure and skopeo --tls-verify=false do', async () => {
    await open.forgetAccessLog();
    const r = await runCliAsync(['push', `${address}:${openRelay.port}/remote/insecure:1`, '--layout', image.layout, '--insecure', '--json'], { env });
    assertOk(r);
    assert.equal((JSON.parse(r.stdout) as { digest: string }).digest, image.manifest.digest);
    assert.equal(skopeoDigest(`${open.host}/remote/insecure:1`), image.manifest.digest);
    // A copy between two names of it, and a login-protected one with its password (which --insecure allows over plain HTTP).
    const copied = await runCliAsync(['copy', `${address}:${openRelay.port}/remote/insecure:1`, `${address}:${openRelay.port}/remote/insecure:2`, '--insecure'], { env });
    assertOk(copied);
    assert.equal(skopeoDigest(`${open.host}/remote/insecure:2`), image.manifest.digest);
    const withPassword = await runCliAsync(['push', `${address}:${lockedRelay.port}/remote/insecure:1`, '--layout', image.layout, '--insecure', '-u', 'alice', '--password-stdin'], { input: PASSWORD, env });
    assertOk(withPassword);
    assert.equal(withPassword.stdout.trim(), image.manifest.digest);
    await locked.forgetAccessLog();
  });

  it('never sends a password over plain HTTP to it, unless --insecure says so', async () => {
    const target = `${address}:${lockedRelay.port}/remote/secret:1`;
    const refused = await runCliAsync(['push', target, '--layout', image.layout, '--plain-http', '-u', 'alice', '--password-stdin'], { input: PASSWORD, env });
    assert.equal(refused.status, 1, refused.stderr);
    assert.match(refused.stderr.trimEnd().split('\n').at(-1)!, /plain HTTP/);
    assert.ok(!refused.stderr.includes(PASSWORD) && !refused.stderr.includes(Buffer.from(`alice:${PASSWORD}`).toString('base64')));
    const log = await locked.settledAccessLog();
    assert.equal(log.filter((e) => e.uri.startsWith('/v2/remote/') && e.status !== 401).length, 0, 'nothing was accepted');

    const forced = await runCliAsync(['push', target, '--layout', image.layout, '--plain-http', '--insecure', '-u', 'alice', '--password-stdin'], { input: PASSWORD, env });
    assertOk(forced);
    assert.equal(forced.stdout.trim(), image.manifest.digest);
  });
});
