import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { build, copy, defaultCredentials, isOcipushError, pull, push, validate, type OcipushError } from '../../src/index.js';
import { inLibraryTerms } from '../../src/lib/errors.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { REPO_ROOT, run, runCli, tempDir } from '../support/tools.js';
import { skopeoDigest, skopeoTags } from '../registry/support.js';

let registry: RunningRegistry;
let locked: RunningRegistry;
let tmp: { path: string; cleanup: () => Promise<void> };
let layout: string;
const PASSWORD = 'api-secret';

before(async () => {
  registry = await startRegistry();
  locked = await startRegistry({ auth: { htpasswd: { users: { alice: PASSWORD } } } });
  tmp = await tempDir('ocipush-api-');
  layout = join(tmp.path, 'layout');
  const rootfs = join(tmp.path, 'rootfs');
  mkdirSync(rootfs);
  // Random bytes do not compress: 24 MiB stay 24 MiB on the wire, time enough to cut a push.
  writeFileSync(join(rootfs, 'big'), randomBytes(24 << 20));
  await build({ rootfs, layout, tag: 'big', compression: 'none' });
});

after(async () => {
  await registry?.stop();
  await locked?.stop();
  await tmp?.cleanup();
});

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<OcipushError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  assert.ok(isOcipushError(err), `expected an OcipushError ${code}, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  return err;
}

async function manifestStatus(host: string, repo: string, tag: string): Promise<number> {
  const r = await fetch(`http://${host}/v2/${repo}/manifests/${tag}`, { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
  return r.status;
}

test('push, pull: one options shape; two tags; the digest comes back', async () => {
  const pushed = await push({ layout, tag: 'big', to: `${registry.host}/api/app:1`, alsoTag: ['latest'], concurrency: 2 });
  assert.deepEqual(pushed.tags, ['1', 'latest']);
  assert.equal(pushed.reference, `${registry.host}/api/app:1@${pushed.digest}`);
  assert.equal(await manifestStatus(registry.host, 'api/app', 'latest'), 200);
  const pulled = await pull({ from: `${registry.host}/api/app:latest`, layout: join(tmp.path, 'pulled') });
  assert.equal(pulled.digest, pushed.digest);
  assert.equal(pulled.tag, 'latest');
  assert.deepEqual(pulled.blobs.map((b) => b.outcome).sort(), ['downloaded', 'downloaded']);
});

test('an AbortSignal already aborted: the call rejects with EABORTED before any request', async () => {
  registry.clearAccessLog();
  const err = await rejectsWith(push({ layout, to: `${registry.host}/api/never:1`, signal: AbortSignal.abort() }), 'EABORTED');
  assert.match(err.message, /^push .*: aborted$/);
  await rejectsWith(build({ rootfs: join(tmp.path, 'rootfs'), layout, tag: 'never', signal: AbortSignal.abort() }), 'EABORTED');
  assert.deepEqual((await registry.settledAccessLog()).filter((e) => e.path.includes('never')), []);
});

/** An image of fresh random bytes: a blob no repository has yet, so nothing is mounted instead of sent. */
async function freshImage(tag: string): Promise<void> {
  const rootfs = join(tmp.path, `rootfs-${tag}`);
  mkdirSync(rootfs);
  writeFileSync(join(rootfs, 'big'), randomBytes(24 << 20));
  await build({ rootfs, layout, tag, compression: 'none' });
}

test('a push aborted while its layer uploads rejects with EABORTED, and the tag never appears', async () => {
  await freshImage('cut');
  const controller = new AbortController();
  const err = await rejectsWith(push({
    layout, tag: 'cut', to: `${registry.host}/api/cut:1`, signal: controller.signal, chunkSize: 1 << 20,
    onEvent: (e) => { if (e.type === 'progress' && e.kind === 'layer' && e.bytes > 0) controller.abort(); },
  }), 'EABORTED');
  assert.ok(controller.signal.aborted);
  assert.ok(isOcipushError(err));
  assert.equal(await manifestStatus(registry.host, 'api/cut', '1'), 404);
});

test('a pull aborted while its layer downloads rejects with EABORTED, and the layout does not name the image', async () => {
  await freshImage('src');
  await push({ layout, tag: 'src', to: `${registry.host}/api/src:1` });
  const controller = new AbortController();
  const into = join(tmp.path, 'cut-pull');
  await rejectsWith(pull({
    from: `${registry.host}/api/src:1`, layout: into, signal: controller.signal,
    onEvent: (e) => { if (e.type === 'progress' && e.kind === 'layer' && e.bytes > 0) controller.abort(); },
  }), 'EABORTED');
  // The layout the pull made holds no image: it is removed again (issue 14), not left empty.
  assert.equal(existsSync(into), false);
});

test('errors raised through the library name options, not flags', async () => {
  const auth = await rejectsWith(push({ layout, tag: 'big', to: `${locked.host}/api/app:1`, credentials: false }), 'EAUTH');
  assert.match(auth.message, /set `credentials`/);
  assert.doesNotMatch(auth.message, /--/);
  const pem = join(tmp.path, 'not.pem');
  writeFileSync(pem, 'not a certificate');
  const ca = await rejectsWith(push({ layout, tag: 'big', to: `${locked.host}/api/app:1`, caFile: pem }), 'EUSAGE');
  assert.match(ca.message, /^`caFile` .*not\.pem: not a PEM certificate$/);
  assert.throws(() => defaultCredentials({ registry: locked.host, username: 'alice' }), (e: Error) => e.message === 'a username needs a password');
  // With the CLI's chain (username + password for this registry), the same push goes through.
  const pushed = await push({ layout, tag: 'big', to: `${locked.host}/api/app:1`, credentials: defaultCredentials({ registry: locked.host, username: 'alice', password: PASSWORD }) });
  assert.match(pushed.digest, /^sha256:/);
});

test('inLibraryTerms: every --flag becomes its option; switches read as their value', () => {
  assert.equal(inLibraryTerms('cannot reach r: self-signed certificate (use --ca-file FILE, or --insecure to skip verification)'),
    'cannot reach r: self-signed certificate (set `caFile` FILE, or set `insecure: true` to skip verification)');
  assert.equal(inLibraryTerms('TLS handshake failed (is it a plain HTTP registry? use --plain-http)'), 'TLS handshake failed (is it a plain HTTP registry? set `plainHttp: true`)');
  assert.equal(inLibraryTerms('x (authentication required: use --username with --password-stdin, or docker login)'), 'x (authentication required: set `credentials`, or docker login)');
  assert.equal(inLibraryTerms('--also-tag "x": not a valid tag'), '`alsoTag` "x": not a valid tag');
  assert.equal(inLibraryTerms('a-b foo--bar sha256:--'), 'a-b foo--bar sha256:--');
});

test('timeout and requestTimeout bound a call to a registry that accepts and never answers, and the error names the options', async () => {
  const { createServer } = await import('node:net');
  const sockets: import('node:net').Socket[] = [];
  const silent = createServer((socket) => { sockets.push(socket); });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const port = (silent.address() as import('node:net').AddressInfo).port;
  const tmp = await tempDir('ocipush-lib-timeout-');
  try {
    await assert.rejects(
      pull({ from: `127.0.0.1:${port}/never/answers:1`, layout: join(tmp.path, 'layout'), plainHttp: true, timeout: 600, requestTimeout: 150 }),
      (err: OcipushError) => {
        assert.match(err.message, /no complete answer within 0\.6 s \(`timeout`; each attempt waits up to 0\.15 s, `requestTimeout`\)/);
        return true;
      });
    await assert.rejects(pull({ from: `127.0.0.1:${port}/x:1`, layout: join(tmp.path, 'layout'), timeout: -1 }), { code: 'EUSAGE' });
  } finally {
    for (const s of sockets) s.destroy();
    silent.close();
    await tmp.cleanup();
  }
});

test('copy promotes an image to another registry (credentials per registry) and within one registry mounts', async () => {
  const { copy } = await import('../../src/index.js');
  const pushed = await push({ layout, tag: 'big', to: `${registry.host}/api/promote:1` });
  // To a registry that needs credentials: the destination's come from `credentials`, the source needs none.
  const credentials = defaultCredentials({ registry: locked.host, username: 'alice', password: PASSWORD });
  const promoted = await copy({ from: `${registry.host}/api/promote:1`, to: `docker://${locked.host}/prod/app:1`, credentials });
  assert.equal(promoted.digest, pushed.digest);
  assert.equal(promoted.reference, `${locked.host}/prod/app:1@${pushed.digest}`);
  assert.ok(promoted.blobs.every((b) => b.outcome === 'uploaded'), JSON.stringify(promoted.blobs.map((b) => b.outcome)));
  const within = await copy({ from: `${registry.host}/api/promote:1`, to: `${registry.host}/api/other:2` });
  assert.deepEqual(within.blobs.map((b) => b.outcome).sort(), ['mounted', 'mounted']);
  assert.equal(await manifestStatus(registry.host, 'api/other', '2'), 200);
  // Without a tag the destination takes the source's, as the CLI's copy names it (skopeo reads it there).
  const untagged = await copy({ from: `${registry.host}/api/promote:1`, to: `${registry.host}/api/untagged` });
  assert.equal(untagged.reference, `${registry.host}/api/untagged:1@${pushed.digest}`);
  assert.equal(skopeoDigest(`${registry.host}/api/untagged:1`), pushed.digest);
  await rejectsWith(copy({ from: `${registry.host}/api/promote:1`, to: `oci:${join(tmp.path, 'x')}` }), 'EUSAGE');
  await rejectsWith(copy({ from: `${registry.host}/api/promote:1`, to: `${registry.host}/api/never:1`, signal: AbortSignal.abort() }), 'EABORTED');
});

test('copy out of a layout whose base a build only referenced mounts the base layer in its registry, as the CLI does, and writes nothing into the layout', async () => {
  const { copy } = await import('../../src/index.js');
  const base = await push({ layout, tag: 'big', to: `${registry.host}/api/lazy-base:1` });
  const app = join(tmp.path, 'lazy-app');
  mkdirSync(app);
  writeFileSync(join(app, 'app.txt'), 'the app\n');
  const lazy = join(tmp.path, 'lazy-layout');
  await build({ rootfs: app, layout: lazy, tag: 'app', base: `${registry.host}/api/lazy-base:1` });
  const before = readdirSync(join(lazy, 'blobs', 'sha256')).sort();
  const baseLayer = (JSON.parse(run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/api/lazy-base@${base.digest}`])) as { layers: { digest: string }[] }).layers[0]!.digest;
  assert.ok(!before.includes(baseLayer.slice(7)), 'the build referenced the 24 MiB base layer without fetching it');
  const copied = await copy({ from: `oci:${lazy}:app`, to: `${registry.host}/api/lazy-app:1` });
  assert.equal(copied.blobs.find((b) => b.descriptor.digest === baseLayer)?.outcome, 'mounted');
  assert.deepEqual(readdirSync(join(lazy, 'blobs', 'sha256')).sort(), before, 'the layout stays lazy');
  // skopeo reads the whole image back from the destination, base layer included.
  run('skopeo', ['copy', '--quiet', '--src-tls-verify=false', `docker://${registry.host}/api/lazy-app:1`, `oci:${join(tmp.path, 'lazy-check')}:app`]);
});

test('push carries what refers to the image in the layout, as the CLI does: a build --sbom goes along', async () => {
  const rootfs = join(tmp.path, 'sbom-rootfs');
  mkdirSync(rootfs);
  writeFileSync(join(rootfs, 'hello.txt'), 'hello\n');
  const sbomLayout = join(tmp.path, 'sbom-layout');
  const built = runCli(['build', rootfs, '--layout', sbomLayout, '--tag', 'app', '--sbom']);
  assert.equal(built.status, 0, built.stderr);
  const pushed = await push({ layout: sbomLayout, to: `${registry.host}/api/sbom:1` });
  assert.equal(pushed.referrers.length, 1, 'the SBOM');
  assert.equal(pushed.cacheEntries, 0);
  assert.equal(await manifestStatus(registry.host, 'api/sbom', pushed.referrers[0]!.descriptor.digest), 200, 'the SBOM manifest is in the registry');
  // copy() takes it along to another repository and lists it there, as the CLI's copy does:
  // from a registry (asked through its referrers tag schema) and from the layout.
  const { copy } = await import('../../src/index.js');
  const sbom = pushed.referrers[0]!.descriptor.digest;
  const indexTag = pushed.digest.replace(':', '-');
  const listed = async (repo: string) => {
    const r = await fetch(`http://${registry.host}/v2/${repo}/manifests/${indexTag}`, { headers: { accept: 'application/vnd.oci.image.index.v1+json' } });
    return r.status === 200 ? ((await r.json()) as { manifests: { digest: string }[] }).manifests.map((m) => m.digest) : [];
  };
  const promoted = await copy({ from: `${registry.host}/api/sbom:1`, to: `${registry.host}/api/sbom-promoted:1` });
  assert.deepEqual(promoted.referrers.map((d) => d.digest), [sbom]);
  assert.deepEqual(await listed('api/sbom-promoted'), [sbom], 'the SBOM is listed in the referrers tag index of the copy');
  const fromLayout = await copy({ from: `oci:${sbomLayout}:app`, to: `${registry.host}/api/sbom-from-layout:1` });
  assert.deepEqual(fromLayout.referrers.map((d) => d.digest), [sbom]);
  assert.deepEqual(await listed('api/sbom-from-layout'), [sbom]);
  // The SBOM alone, by digest (as oras cp copies an artifact): listed among its subject's referrers there too.
  const alone = await copy({ from: `${registry.host}/api/sbom@${sbom}`, to: `${registry.host}/api/sbom-alone@${sbom}` });
  assert.equal(alone.digest, sbom);
  assert.deepEqual(await listed('api/sbom-alone'), [sbom]);
});

test('copy out of a layout carries a build\'s signed provenance to cosign\'s .att too, as push and the CLI\'s copy do: verify-attestation finds it there', async () => {
  const { copy } = await import('../../src/index.js');
  const env = { COSIGN_PASSWORD: 'api-key-password' };
  const prefix = join(tmp.path, 'api-key');
  assert.equal(runCli(['generate-key-pair', '--output-prefix', prefix], { env }).status, 0);
  const rootfs = join(tmp.path, 'provenance-rootfs');
  mkdirSync(rootfs);
  writeFileSync(join(rootfs, 'hello.txt'), 'hello\n');
  const built = join(tmp.path, 'provenance-layout');
  const b = runCli(['build', rootfs, '--layout', built, '--tag', 'app', '--provenance', '--key', `${prefix}.key`], { env });
  assert.equal(b.status, 0, b.stderr);
  const copied = await copy({ from: `oci:${built}:app`, to: `${registry.host}/api/provenance:1` });
  const att = JSON.parse(run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/api/provenance:${copied.digest.replace(':', '-')}.att`])) as { layers: { mediaType: string }[] };
  assert.deepEqual(att.layers.map((l) => l.mediaType), ['application/vnd.dsse.envelope.v1+json']);
  // And the image's attestations verify by the key.
  const verified = runCli(['verify-attestation', `${registry.host}/api/provenance:1`, '--key', `${prefix}.pub`, '--type', 'slsaprovenance1']);
  assert.equal(verified.status, 0, verified.stderr);
});

test('validate resolves with the report: valid for a whole image, the problem named for a layer whose bytes changed', async () => {
  const copy = join(tmp.path, 'validate-layout');
  cpSync(layout, copy, { recursive: true });
  const whole = await validate({ image: `oci:${copy}:big` });
  assert.deepEqual(whole.problems, []);
  assert.equal(whole.blobs, 2);
  const manifest = JSON.parse(readFileSync(join(copy, 'blobs', 'sha256', whole.digest.slice(7)), 'utf8')) as { layers: { digest: string }[] };
  const layer = join(copy, 'blobs', 'sha256', manifest.layers[0]!.digest.slice(7));
  const bytes = readFileSync(layer);
  bytes[bytes.length >> 1]! ^= 0xff;
  writeFileSync(layer, bytes);
  const broken = await validate({ image: `oci:${copy}` });
  assert.deepEqual(broken.problems.map((p) => [p.code, p.digest]), [['EDIGEST', manifest.layers[0]!.digest]]);
  assert.deepEqual((await validate({ image: `oci:${copy}`, fast: true })).problems, [], '--fast reads no layer');
});

// A script in plain JavaScript passes what TypeScript would refuse. `sbom: true` (the CLI's --sbom
// is a switch) was built into a referrer without a media type, and every later push of the image
// failed on it (EINVALID, "layers[0]: not a valid descriptor"); a provenance without a signer
// failed with a TypeError after the layers were built. Both are refused before anything is written.
test('build refuses an sbom of no known format and a provenance without a signer, before writing anything', async () => {
  const context = join(tmp.path, 'js-context');
  mkdirSync(context);
  writeFileSync(join(context, 'Dockerfile'), 'FROM scratch\nCOPY hello /hello\n');
  writeFileSync(join(context, 'hello'), 'hello\n');
  const into = join(tmp.path, 'js-layout');
  for (const [options, pattern] of [
    [{ rootfs: context, sbom: true }, /^`sbom` true: expected "spdx" or "cyclonedx"/],
    [{ context, sbom: 'SPDX' }, /^`sbom` "SPDX": expected "spdx" or "cyclonedx"/],
    [{ rootfs: context, provenance: { externalParameters: {} } }, /^`provenance` needs `signer`/],
    [{ context, provenance: true }, /^`provenance` needs `signer`/],
  ] as const) {
    const err = await rejectsWith(build({ ...options, layout: into, tag: 'js' } as never), 'EUSAGE');
    assert.match(err.message, pattern);
    assert.equal(existsSync(into), false, 'no layout made');
  }
  // The formats themselves: each SBOM a referrer that push carries and skopeo reads back.
  for (const sbom of ['spdx', 'cyclonedx'] as const) {
    await build({ context, sbom, layout: into, tag: sbom });
    const pushed = await push({ layout: into, tag: sbom, to: `${registry.host}/api/js-${sbom}:1` });
    const mediaType = sbom === 'spdx' ? 'application/spdx+json' : 'application/vnd.cyclonedx+json';
    const referrer = pushed.referrers.find((r) => r.artifactType === mediaType);
    assert.ok(referrer, `the ${sbom} SBOM went along`);
    const manifest = JSON.parse(run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/api/js-${sbom}@${referrer.descriptor.digest}`])) as { layers: { mediaType: string }[] };
    assert.equal(manifest.layers[0]!.mediaType, mediaType);
  }
});

/** An AbortSignal that counts the 'abort' listeners attached to it at once (most at any time). */
function countedSignal(): { signal: AbortSignal; most: () => number; now: () => number } {
  const signal = new AbortController().signal;
  const live = new Set<unknown>();
  let most = 0;
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = ((type: string, listener: unknown, options?: unknown) => {
    if (type === 'abort') { live.add(listener); most = Math.max(most, live.size); }
    add(type, listener as never, options as never);
  }) as typeof signal.addEventListener;
  signal.removeEventListener = ((type: string, listener: unknown, options?: unknown) => {
    if (type === 'abort') live.delete(listener);
    remove(type, listener as never, options as never);
  }) as typeof signal.removeEventListener;
  return { signal, most: () => most, now: () => live.size };
}

// A release script that gives all its calls one AbortSignal (AbortSignal.timeout for the whole
// job) got Node's "MaxListenersExceededWarning: Possible EventTarget memory leak detected. 11
// abort listeners added to [AbortSignal]" on stderr from three pushes at once: every request
// in flight listened to the caller's signal. Now each call listens once, for as long as it runs.
test("one AbortSignal shared by several calls: each call adds one listener to it while it runs, and Node prints no warning", async () => {
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  process.on('warning', onWarning);
  try {
    const one = countedSignal();
    const pushed = await push({ layout, tag: 'big', to: `${registry.host}/api/shared:1`, signal: one.signal, concurrency: 4 });
    assert.equal(one.most(), 1, 'a push listens to the signal once');
    assert.equal(one.now(), 0, 'and no more once it is over');

    const shared = countedSignal();
    const images = ['s1', 's2', 's3', 's4'];
    for (const tag of images) {
      const rootfs = join(tmp.path, `rootfs-${tag}`);
      mkdirSync(rootfs);
      for (let i = 0; i < 4; i++) writeFileSync(join(rootfs, `f${i}`), randomBytes(256 << 10));
    }
    await Promise.all(images.map((tag) => build({ rootfs: join(tmp.path, `rootfs-${tag}`), layout, tag, signal: shared.signal })));
    const results = await Promise.all([
      ...images.map((tag) => push({ layout, tag, to: `${registry.host}/api/shared-${tag}:1`, signal: shared.signal, concurrency: 8 })),
      pull({ from: `${registry.host}/api/shared:1`, layout: join(tmp.path, 'shared-pull'), signal: shared.signal }),
      validate({ image: `${registry.host}/api/shared:1`, signal: shared.signal }),
    ]);
    assert.equal(results.length, 6);
    assert.ok(shared.most() <= 6, `at most one listener per call at once (${shared.most()})`);
    assert.equal(shared.now(), 0);
    assert.equal(pushed.digest, (results[4] as { digest: string }).digest);
    assert.deepEqual(warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map((w) => w.message), []);
  } finally {
    process.off('warning', onWarning);
  }
});

// `credentials` may be any object with get(registry): one that fails (a secrets vault that is down)
// rejected the call with its own raw error, not an OcipushError as the README promises.
test('a credentials source that fails: EAUTH naming the registry, its error as the cause', async () => {
  const down = new Error('vault unreachable');
  for (const get of [async () => { throw down; }, () => { throw down; }]) {
    const err = await rejectsWith(push({ layout, tag: 'big', to: `${locked.host}/api/vault:1`, credentials: { get } as never }), 'EAUTH');
    assert.equal(err.message, `cannot get credentials for ${locked.host}: vault unreachable`);
    assert.equal(err.cause, down);
  }
  assert.throws(() => run('skopeo', ['inspect', '--raw', '--tls-verify=false', '--creds', `alice:${PASSWORD}`, `docker://${locked.host}/api/vault:1`]), /manifest unknown/i);
});

test('pull from an archive and push into one are refused in the library\'s words, before any request or file', async () => {
  const archive = join(tmp.path, 'big.tar');
  assert.equal(runCli(['export', 'big', '--layout', layout, '-o', archive, '-q']).status, 0);
  const into = join(tmp.path, 'from-archive');
  const pulled = await rejectsWith(pull({ from: `docker-archive:${archive}`, layout: into }), 'EUSAGE');
  assert.match(pulled.message, /^from docker-archive:\S+: a docker archive, not a registry \(REGISTRY\/REPO\[:TAG\]\), which pull reads$/);
  assert.equal(existsSync(into), false);
  const out = join(tmp.path, 'pushed.tar');
  const pushed = await rejectsWith(push({ to: `oci-archive:${out}`, layout, tag: 'big' }), 'EUSAGE');
  assert.match(pushed.message, /^to oci-archive:\S+: an OCI archive, not a registry \(REGISTRY\/REPO\[:TAG\]\), which push writes to$/);
  assert.equal(existsSync(out), false);
});

// A script in plain JavaScript got TypeErrors from deep inside for what the types would refuse
// ("Cannot read properties of undefined (reading 'startsWith')" from copy({ from }), validate({}),
// push(); "rest.indexOf is not a function" from a number), and `alsoTag: 'latest'` tagged the
// image l, a, t, e, s and t+1 more: each letter was a tag.
test('from plain JavaScript: a call without its options, a required one missing or not a string, an AbortController for a signal: EUSAGE naming the option, before any request', async () => {
  const before = registry.accessLog().length;
  const into = join(tmp.path, 'js-untyped');
  const untyped = { build, push, pull, copy, validate } as unknown as Record<string, (options?: unknown) => Promise<unknown>>;
  for (const [call, options, pattern] of [
    ['push', undefined, /^push: expected an options object, got undefined$/],
    ['push', { layout, tag: 'big' }, /^push: `to` is missing: the reference to push to \(REGISTRY\/REPOSITORY\[:TAG\]\)$/],
    ['push', { layout, tag: 'big', to: 42 }, /^push: `to` 42: expected a string, the reference to push to/],
    ['push', { layout, tag: 'big', to: `${registry.host}/api/untyped:1`, signal: new AbortController() }, /^push: `signal` an AbortController: expected an AbortSignal \(an AbortController: pass its `signal`\)$/],
    ['pull', { layout: into }, /^pull: `from` is missing: the reference to pull/],
    ['copy', { from: `${registry.host}/api/js:1` }, /^copy: `to` is missing: the registry reference to copy to/],
    ['validate', {}, /^validate: `image` is missing: the image to check/],
    // An option that is a string when given: "The "paths[0]" argument must be of type string", "text.split is not a function".
    ['push', { layout: 5, tag: 'big', to: `${registry.host}/api/untyped:1` }, /^push: `layout` 5: expected a string$/],
    ['pull', { from: `${registry.host}/api/js:1`, layout: into, platform: ['linux/amd64'] }, /^pull: `platform` an array: expected a string$/],
    ['copy', { from: `${registry.host}/api/js:1`, to: `${registry.host}/api/js:2`, caFile: [5] }, /^copy: `caFile` an array: expected a file name or a list of them$/],
    ['build', { layout: into, tag: 'js' }, /^build: set `rootfs` \(directories and tar files, one layer each\) or `context`/],
  ] as const) {
    const err = await rejectsWith(untyped[call]!(options), 'EUSAGE');
    assert.match(err.message, pattern);
  }
  assert.equal(existsSync(into), false, 'no layout made');
  assert.deepEqual(registry.accessLog().slice(before), [], 'no request');
});

// A string where a list goes was written into the config as it was ("Entrypoint": "/bin/sh",
// which skopeo and umoci cannot read), a string env split into one variable per letter.
test('from plain JavaScript: a config option of the wrong shape (entrypoint "/bin/sh", env "X=1", labels as a list), a base or mountFrom not a name: EUSAGE naming it, no layout made', async () => {
  const into = join(tmp.path, 'js-shapes');
  const rootfs = join(tmp.path, 'js-shapes-root');
  mkdirSync(rootfs, { recursive: true });
  writeFileSync(join(rootfs, 'a'), 'a\n');
  const untyped = { build, push } as unknown as Record<string, (options?: unknown) => Promise<unknown>>;
  for (const [call, options, message] of [
    ['build', { rootfs, layout: into, entrypoint: '/bin/sh' }, 'build: `entrypoint` "/bin/sh": expected a list of strings (["/bin/sh"])'],
    ['build', { rootfs, layout: into, cmd: [1] }, 'build: `cmd` an array: expected a list of strings'],
    ['build', { rootfs, layout: into, env: 'X=1' }, 'build: `env` "X=1": expected an object of string values, or a list of KEY=VALUE'],
    ['build', { rootfs, layout: into, labels: ['a=b'] }, 'build: `labels` an array: expected an object of string values'],
    ['build', { rootfs, layout: into, labels: { port: 80 } }, 'build: `labels` an Object: expected an object of string values'],
    ['build', { rootfs, layout: into, base: 42 }, 'build: `base` 42: expected a reference (REGISTRY/REPO[:TAG], oci:DIR[:NAME]) or what resolveBaseImage returns'],
    ['build', { rootfs: 5, layout: into }, 'build: `rootfs` 5: expected a string or a list of them'],
    ['push', { layout, tag: 'big', to: `${registry.host}/api/shapes:1`, mountFrom: 5 }, 'push: `mountFrom` 5: expected a string or a list of them'],
  ] as const) {
    const err = await rejectsWith(untyped[call]!(options), 'EUSAGE');
    assert.equal(err.message, message);
  }
  assert.equal(existsSync(into), false, 'no layout made');
  // The shapes the types name make a config the tools read.
  const built = await build({ rootfs, layout: into, tag: 'ok', entrypoint: ['/bin/sh'], env: ['X=1'], labels: { a: 'b' } });
  const config = JSON.parse(run('skopeo', ['inspect', '--config', `oci:${into}:ok`])) as { config: { Entrypoint: string[]; Env: string[]; Labels: Record<string, string> } };
  assert.deepEqual([config.config.Entrypoint, config.config.Env, config.config.Labels], [['/bin/sh'], ['X=1'], { a: 'b' }]);
  assert.match(built.digest, /^sha256:/);
});

test('alsoTag and mountFrom take one name as a string: the tag it names, not one tag per letter', async () => {
  const pushed = await push({ layout, tag: 'big', to: `${registry.host}/api/one-tag:1`, alsoTag: 'stable', mountFrom: 'api/js' });
  assert.deepEqual(pushed.tags, ['1', 'stable']);
  assert.deepEqual(skopeoTags(`${registry.host}/api/one-tag`), ['1', 'stable']);
});

// A layout's file streams take no signal: validate({ signal }) read every layer on after the
// abort and resolved with its report, as if nothing had been asked.
test('validate of a layout aborted after it started rejects with EABORTED, the layer read no further', async () => {
  const controller = new AbortController();
  const call = validate({ image: `oci:${layout}:big`, signal: controller.signal });
  // The call has begun (its start checked the signal); every read it makes from here sees it fired.
  controller.abort();
  const err = await rejectsWith(call, 'EABORTED');
  assert.match(err.message, /aborted/);
  // Not aborted, the same call finds the image whole.
  assert.deepEqual((await validate({ image: `oci:${layout}:big` })).problems, []);
});

// A script whose directory was removed from elsewhere got Node's raw "ENOENT: no such file or
// directory, uv_cwd" from push's default layout: no OcipushError, no code.
test('a call in a removed current directory rejects with EREAD saying so, naming the option to give in full', () => {
  const script = join(tmp.path, 'cwd-gone.mjs');
  writeFileSync(script, `import { push } from ${JSON.stringify(join(REPO_ROOT, 'dist', 'src', 'index.js'))};\n`
    + `try { await push({ to: ${JSON.stringify(`${registry.host}/api/cwd:1`)}, layout: 'relative' }); console.log('resolved'); } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }\n`);
  const gone = join(tmp.path, 'gone');
  mkdirSync(gone);
  const out = run('sh', ['-c', `cd '${gone}' && rmdir '${gone}' && exec '${process.execPath}' '${script}'`]);
  assert.deepEqual(JSON.parse(out), { code: 'EREAD', message: 'push: the current directory no longer exists (it was removed): give `layout` and every other path in full' });
});
