import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { copyFile, mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeSelfSignedCert } from '../support/certs.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { nonLoopbackAddress, relay } from '../support/relay.js';
import { startTinyproxy } from '../support/tinyproxy.js';
import { removeOnExit } from '../support/exit-cleanup.js';
import { run, tempDir } from '../support/tools.js';
import { assertOk, assertOneLineError, runCliAsync } from '../cli/registry-support.js';
import { umociImage, type UmociImage } from './support.js';

/** The per-registry directories docker and containers/image (skopeo, podman) read. */
const DOCKER = '/etc/docker/certs.d';
const CONTAINERS = '/etc/containers/certs.d';

function writable(dir: string): boolean {
  try { accessSync(dir, constants.W_OK); return true; } catch { return false; }
}

const canWrite = writable('/etc/docker') || writable('/etc');

describe('a registry asking for a client certificate (mutual TLS) finds it in certs.d, as skopeo does', { skip: canWrite ? false : 'needs to write /etc/docker/certs.d' }, () => {
  let registry: RunningRegistry;
  let tmp: { path: string; cleanup: () => Promise<void> };
  let image: UmociImage;
  const dirs: string[] = [];

  /** certs.d/<host:port> under `root` holding the CA and, unless left out, the client pair. */
  async function certsDir(root: string, files: { key?: boolean; client?: boolean } = {}): Promise<string> {
    const dir = join(root, registry.host);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    dirs.push(dir);
    removeOnExit(dir);
    await copyFile(registry.caFile!, join(dir, 'ca.crt'));
    if (files.client === false) return dir;
    await copyFile(registry.clientCert!.certFile, join(dir, 'client.cert'));
    if (files.key !== false) await copyFile(registry.clientCert!.keyFile, join(dir, 'client.key'));
    return dir;
  }

  async function clear(): Promise<void> {
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  }

  before(async () => {
    tmp = await tempDir();
    image = umociImage(tmp.path, 'v1', [64 * 1024]);
    registry = await startRegistry({ tls: true, clientAuth: true });
  });
  after(async () => {
    await clear();
    await registry?.stop();
    await tmp?.cleanup();
  });

  it('pushes and reads back with docker\'s ca.crt, client.cert and client.key, no flags', async () => {
    await certsDir(DOCKER);
    try {
      const pushed = await runCliAsync(['push', `${registry.host}/mtls/app:v1`, '--layout', image.layout]);
      assertOk(pushed);
      const inspected = await runCliAsync(['inspect', `${registry.host}/mtls/app:v1`, '--json']);
      assertOk(inspected);
      assert.equal(JSON.parse(inspected.stdout).digest, image.manifest.digest);
      // skopeo reads the same directory and sees the same image.
      const skopeo = JSON.parse(run('skopeo', ['inspect', '--raw', `docker://${registry.host}/mtls/app:v1`])) as { config: { digest: string } };
      assert.equal(skopeo.config.digest, image.config);
    } finally {
      await clear();
    }
  });

  it('reads containers\' certs.d too', async () => {
    await certsDir(CONTAINERS);
    try {
      assertOk(await runCliAsync(['inspect', `${registry.host}/mtls/app:v1`, '--json']));
    } finally {
      await clear();
    }
  });

  it('names a client certificate without its key, instead of a 400 from the plain-HTTP probe', async () => {
    const dir = await certsDir(DOCKER, { key: false });
    try {
      const r = await runCliAsync(['inspect', `${registry.host}/mtls/app:v1`]);
      assertOneLineError(r, new RegExp(`^ocipush: ${join(dir, 'client.cert').replace(/\./g, '\\.')} has no client\\.key beside it`), 2);
    } finally {
      await clear();
    }
  });

  it('names the client certificate the registry wants when there is none, as skopeo\'s "tls: bad certificate"', async () => {
    await certsDir(DOCKER, { client: false });
    try {
      const r = await runCliAsync(['inspect', `${registry.host}/mtls/app:v1`]);
      const dir = join(DOCKER, registry.host).replace(/\./g, '\\.');
      assertOneLineError(r, new RegExp(`^ocipush: cannot reach .*: the registry ended the TLS handshake \\(bad certificate\\): it wants a client certificate it trusts \\(client\\.cert and client\\.key in ${dir}/, or --cert-dir DIR\\)$`), 1);
    } finally {
      await clear();
    }
  });
});

describe('--cert-dir and the user\'s ~/.config/containers/certs.d, where a job that is not root keeps them (as skopeo and podman)', () => {
  let registry: RunningRegistry;
  let tmp: { path: string; cleanup: () => Promise<void> };
  let image: UmociImage;

  before(async () => {
    tmp = await tempDir();
    image = umociImage(tmp.path, 'v1', [64 * 1024]);
    registry = await startRegistry({ tls: true, clientAuth: true });
  });
  after(async () => {
    await registry?.stop();
    await tmp?.cleanup();
  });

  /** `dir` holding the registry's CA and the client pair, as certs.d names them. */
  async function pairIn(dir: string): Promise<string> {
    await mkdir(dir, { recursive: true });
    await copyFile(registry.caFile!, join(dir, 'ca.crt'));
    await copyFile(registry.clientCert!.certFile, join(dir, 'client.cert'));
    await copyFile(registry.clientCert!.keyFile, join(dir, 'client.key'));
    return dir;
  }

  it('--cert-dir DIR: pushes and reads back; skopeo --cert-dir reads the same directory and sees the image', async () => {
    const dir = await pairIn(join(tmp.path, 'certs'));
    assertOk(await runCliAsync(['push', `${registry.host}/mtls/app:v1`, '--layout', image.layout, '--cert-dir', dir]));
    const inspected = await runCliAsync(['inspect', `${registry.host}/mtls/app:v1`, '--json', '--cert-dir', dir]);
    assertOk(inspected);
    assert.equal(JSON.parse(inspected.stdout).digest, image.manifest.digest);
    const skopeo = JSON.parse(run('skopeo', ['inspect', '--raw', '--cert-dir', dir, `docker://${registry.host}/mtls/app:v1`])) as { config: { digest: string } };
    assert.equal(skopeo.config.digest, image.config);
    // copy takes it per side, as skopeo copy --src-cert-dir.
    const layout = join(tmp.path, 'copied');
    assertOk(await runCliAsync(['copy', `${registry.host}/mtls/app:v1`, `oci:${layout}:v1`, '--src-cert-dir', dir]));
    assertOneLineError(await runCliAsync(['inspect', `${registry.host}/mtls/app:v1`, '--cert-dir', join(tmp.path, 'absent')]), /^ocipush: cannot read --cert-dir .*absent: no such file or directory$/, 1);
  });

  it('a client certificate the registry does not trust is named as the one it refused; a --cert-dir with none is named as the place looked in', async () => {
    const stranger = join(tmp.path, 'stranger');
    await mkdir(stranger, { recursive: true });
    await copyFile(registry.caFile!, join(stranger, 'ca.crt'));
    const cert = makeSelfSignedCert(stranger, 'client', '/CN=stranger');
    await rename(cert.certFile, join(stranger, 'client.cert'));
    const shown = join(stranger, 'client.cert');
    const refused = await runCliAsync(['inspect', `${registry.host}/mtls/app:v1`, '--cert-dir', stranger]);
    assertOneLineError(refused, new RegExp(`^ocipush: cannot reach ${registry.host}: the registry ended the TLS handshake \\(bad certificate\\): it refused the client certificate ${shown.replace(/\./g, '\\.')} \\(is it signed by a CA the registry trusts, and still valid\\?\\)$`), 1);
    assert.throws(() => run('skopeo', ['inspect', '--raw', '--cert-dir', stranger, `docker://${registry.host}/mtls/app:v1`]), /tls: bad certificate/);

    const caOnly = join(tmp.path, 'ca-alone');
    await mkdir(caOnly, { recursive: true });
    await copyFile(registry.caFile!, join(caOnly, 'ca.crt'));
    const none = await runCliAsync(['inspect', `${registry.host}/mtls/app:v1`, '--cert-dir', caOnly]);
    assertOneLineError(none, new RegExp(`^ocipush: cannot reach ${registry.host}: the registry ended the TLS handshake \\(bad certificate\\): it wants a client certificate it trusts, and --cert-dir ${caOnly.replace(/\./g, '\\.')} holds none \\(NAME\\.cert beside NAME\\.key\\)$`), 1);
  });

  it('through HTTPS_PROXY\'s tunnel, the client certificate the registry wants is named as without a proxy, once, not "connection reset" after retries', async () => {
    // Loopback is never proxied: the registry is reached at this machine's other address, whose
    // name its certificate lacks (--insecure), through a real proxy.
    const tunnelled = await relay(nonLoopbackAddress(), registry.port);
    const proxy = await startTinyproxy();
    try {
      const host = tunnelled.host;
      const caOnly = join(tmp.path, 'ca-only');
      await mkdir(caOnly, { recursive: true });
      await copyFile(registry.caFile!, join(caOnly, 'ca.crt'));
      const env = { ...process.env, HTTPS_PROXY: proxy.url, HTTP_PROXY: undefined, NO_PROXY: undefined, https_proxy: undefined, no_proxy: undefined };
      const refused = await runCliAsync(['push', `${host}/mtls/proxied:v1`, '--layout', image.layout, '--insecure', '--cert-dir', caOnly], { env });
      assertOneLineError(refused, new RegExp(`^ocipush: cannot reach ${host.replace(/\./g, '\\.')}: the registry ended the TLS handshake \\(bad certificate\\): it wants a client certificate it trusts`), 1);
      assert.equal(proxy.requests().filter((e) => e.method === 'CONNECT').length, 1, `a refusal is not retried: ${proxy.log()}`);

      const dir = await pairIn(join(tmp.path, 'proxied-certs'));
      assertOk(await runCliAsync(['push', `${host}/mtls/proxied:v1`, '--layout', image.layout, '--insecure', '--cert-dir', dir], { env }));
      const skopeo = JSON.parse(run('skopeo', ['inspect', '--raw', '--cert-dir', dir, `docker://${registry.host}/mtls/proxied:v1`])) as { config: { digest: string } };
      assert.equal(skopeo.config.digest, image.config);
    } finally {
      await proxy.stop();
      await tunnelled.close();
    }
  });

  it('~/.config/containers/certs.d/HOST: found with no flag', async () => {
    const home = join(tmp.path, 'home');
    await pairIn(join(home, '.config/containers/certs.d', registry.host));
    const env = { ...process.env, HOME: home };
    const inspected = await runCliAsync(['inspect', `${registry.host}/mtls/app:v1`, '--json'], { env });
    assertOk(inspected);
    assert.equal(JSON.parse(inspected.stdout).digest, image.manifest.digest);
    const skopeo = execFileSync('skopeo', ['inspect', '--raw', `docker://${registry.host}/mtls/app:v1`], { env, encoding: 'utf8' });
    assert.equal((JSON.parse(skopeo) as { config: { digest: string } }).config.digest, image.config);
  });
});
