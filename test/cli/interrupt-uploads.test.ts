import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { tempDir } from '../support/tools.js';
import { snapshotDir } from '../assemble/support.js';
import { MiB, umociImage, type UmociImage } from '../registry/support.js';
import { assertOk, runCliAsync, startCli } from './registry-support.js';
import { envWith } from './copy-support.js';

/**
 * Ctrl-C (or SIGTERM) while blobs go up: the process still ends at once with its status and one
 * line, and the upload sessions it had opened in the registry are cancelled (DELETE) before it
 * goes, as the distribution spec allows; crane and skopeo leave them, holding what they took
 * until the registry purges stale uploads (a week in distribution's defaults).
 */
let tmp: { path: string; cleanup: () => Promise<void> };
let image: UmociImage;
let registry: RunningRegistry;
let proxy: FaultProxy;
let release: () => void = () => {};
const env = envWith();

before(async () => {
  tmp = await tempDir();
  image = umociImage(tmp.path, 'v1', [3.5 * MiB]);
  registry = await startRegistry();
  proxy = await startFaultProxy({ target: registry.url });
  assertOk(await runCliAsync(['push', `${registry.host}/src/app:1`, '--layout', image.layout], { env }));
});
after(async () => {
  release();
  await proxy?.stop();
  await registry?.stop();
  await tmp?.cleanup();
});
beforeEach(() => {
  release();
  proxy.clearFaults();
  proxy.clearRequests();
});

/**
 * The proxy keeps the first request `holds` picks (with `every`, each one) from the registry (its
 * body is never read) until the test ends, and tells when the first has come: the upload is under
 * way when the signal is sent.
 */
function holdUpload(method: string, holds: (target: string, headers: IncomingHttpHeaders) => boolean, every = false): Promise<void> {
  let arrived!: () => void;
  const seen = new Promise<void>((resolve) => { arrived = resolve; });
  const released = new Promise<void>((resolve) => { release = resolve; });
  let held = false;
  proxy.addFault({
    method,
    path: /\/blobs\/uploads\//,
    times: Infinity,
    fault: {
      kind: 'around',
      before: (headers, target) => {
        if ((held && !every) || !holds(target, headers)) return;
        held = true;
        arrived();
        return released;
      },
      after: () => {},
    },
  });
  return seen;
}

async function interrupted(args: string[], signal: NodeJS.Signals, started: Promise<void>, extra: NodeJS.ProcessEnv = {}) {
  const { child, done } = startCli(args, { env: { ...env, ...extra } });
  await Promise.race([started, done]);
  child.kill(signal);
  return done;
}

/** The sessions the client wrote into, by the Location it had last (its `_state` names what it sent). */
function sessionsUsed(repo: string): string[] {
  const latest = new Map<string, string>();
  for (const r of proxy.requests()) {
    const m = new RegExp(`^/v2/${repo}/blobs/uploads/([^/?]+)`).exec(r.path);
    if (m && (r.method === 'PATCH' || r.method === 'PUT')) latest.set(m[1]!, r.path);
  }
  return [...latest.values()];
}

/** What the registry keeps of upload sessions: their bytes (`data`) and start time (`startedat`). */
function uploadFilesLeft(repo: string): string[] {
  const dir = join(registry.storageDir, 'docker', 'registry', 'v2', 'repositories', repo, '_uploads');
  if (!existsSync(dir)) return [];
  // distribution's own DELETE leaves `hashstates/sha256/0` behind (its upload's close after the
  // cancel writes it): no bytes, no session, and what its purge removes.
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && !e.parentPath.includes(`${'/'}hashstates`))
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
}

async function assertSessionsGone(repo: string): Promise<void> {
  const used = sessionsUsed(repo);
  assert.ok(used.length > 0, 'the upload had started');
  for (const path of used) {
    // Asked of the registry itself, with the state the client held: an open session answers 204.
    const res = await fetch(`${registry.url}${path.replace(/[?&]digest=[^&]*/, '')}`);
    const body = await res.text();
    assert.equal(res.status, 404, `${path.split('?')[0]} is still open: ${res.status} ${body}`);
    assert.match(body, /BLOB_UPLOAD_UNKNOWN/);
  }
  assert.deepEqual(uploadFilesLeft(repo), [], 'the registry holds no upload data');
}

describe('interrupted while blobs go up', () => {
  it('push --chunk-size, Ctrl-C with a chunk held: 130, one line, the session that holds a chunk deleted, the layout as it was', async () => {
    const repo = 'int/push';
    const layout = snapshotDir(image.layout);
    // The layer's second chunk: the registry already holds its first MiB.
    const started = holdUpload('PATCH', (_, headers) => headers['content-range'] === `${MiB}-${2 * MiB - 1}`);
    const r = await interrupted(['push', `${proxy.host}/${repo}:1`, '--layout', image.layout, '--tag', 'v1', '--chunk-size', '1MiB'], 'SIGINT', started);
    assert.equal(r.status, 130, r.stderr);
    assert.equal(r.stdout, '');
    assert.deepEqual(r.stderr.split('\n').filter((l) => l.startsWith('ocipush:')), [`ocipush: push to ${proxy.host}/${repo}:1 interrupted by SIGINT; ${image.layout} is left as it was`]);
    assert.ok(proxy.requests().some((q) => q.method === 'DELETE'), 'a DELETE of the session');
    await assertSessionsGone(repo);
    assert.deepEqual(snapshotDir(image.layout), layout);
  });

  it('copy between registries, SIGTERM with the layer\'s PUT held: 143, one line, its session deleted', async () => {
    const repo = 'int/copy';
    const started = holdUpload('PUT', (target) => new URL(target, 'http://x').searchParams.get('digest') === image.layers[0]);
    const r = await interrupted(['copy', `${registry.host}/src/app:1`, `${proxy.host}/${repo}:1`], 'SIGTERM', started);
    assert.equal(r.status, 143, r.stderr);
    assert.equal(r.stdout, '');
    assert.deepEqual(r.stderr.split('\n').filter((l) => l.startsWith('ocipush:')).map((l) => l.replace(/^ocipush: .* interrupted by /, '')), ['SIGTERM']);
    await assertSessionsGone(repo);
  });
});

describe('interrupted while a session is being opened', () => {
  /**
   * Runs the CLI with the answers to the requests `path` picks (method `method`) held at the
   * proxy once the registry has given them, a session open there; Ctrl-C when the first is held,
   * and the answers go on only once the process has taken the signal (printed its line).
   */
  async function answerAfterSignal(method: string, path: RegExp, args: string[]): Promise<{ status: number | null; stderr: string }> {
    let answered!: () => void;
    const opened = new Promise<void>((resolve) => { answered = resolve; });
    let letGo!: () => void;
    const held = new Promise<void>((resolve) => { letGo = resolve; });
    proxy.addFault({ method, path, times: Infinity, fault: { kind: 'around', before: () => {}, after: () => { answered(); return held; } } });
    // No PUT reaches the registry: one cut mid-body would leave bytes distribution will not delete.
    void holdUpload('PUT', () => true, true);
    const { child, done } = startCli(args, { env });
    let stderr = '';
    let told!: () => void;
    const interruptedLine = new Promise<void>((resolve) => { told = resolve; });
    child.stderr!.on('data', (c: Buffer) => { stderr += c.toString(); if (stderr.includes('interrupted by')) told(); });
    const ended = done.finally(letGo);
    await Promise.race([opened, ended]);
    child.kill('SIGINT');
    // The answer comes only to a process that has taken the signal.
    await Promise.race([interruptedLine, ended]);
    letGo();
    return ended;
  }

  it('push, Ctrl-C once the registry opened a session and before its answer came: the answer is waited for, the session deleted, 130', async () => {
    const repo = 'int/post';
    // The first POST's 202 waits at the proxy, the session already open in the registry.
    const r = await answerAfterSignal('POST', /\/blobs\/uploads\/$/, ['push', `${proxy.host}/${repo}:1`, '--layout', image.layout, '--tag', 'v1']);
    assert.equal(r.status, 130, r.stderr);
    assert.equal(r.stderr.split('\n').filter((l) => l.startsWith('ocipush:')).length, 1, r.stderr);
    assert.ok(proxy.requests().some((q) => q.method === 'POST'), 'a session was opened');
    assert.deepEqual(uploadFilesLeft(repo), [], 'the registry holds no upload session');
  });

  it('push --mount-from a repository without the blobs, Ctrl-C before the declined mounts\' answers came: they are waited for, their sessions deleted, 130', async () => {
    const repo = 'int/mount';
    // distribution declines a mount from a repository that lacks the blob with 202 and a session.
    const r = await answerAfterSignal('POST', /\/blobs\/uploads\/\?mount=/, ['push', `${proxy.host}/${repo}:1`, '--layout', image.layout, '--tag', 'v1', '--mount-from', `${proxy.host}/int/empty`]);
    assert.equal(r.status, 130, r.stderr);
    assert.equal(r.stderr.split('\n').filter((l) => l.startsWith('ocipush:')).length, 1, r.stderr);
    assert.ok(proxy.requests().some((q) => q.method === 'POST' && q.path.includes('mount=')), 'a mount was asked');
    assert.deepEqual(uploadFilesLeft(repo), [], 'the registry holds no upload session');
  });
});

describe('interrupted while the other writing verbs send blobs', () => {
  // Every PUT: one cut mid-body leaves distribution holding its bytes (BLOB_UPLOAD_INVALID to the DELETE).
  const anyPut = () => holdUpload('PUT', () => true, true);
  const oneLine = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('ocipush:'));
  const cases: [string, string, (dst: string) => string[], NodeJS.Signals][] = [
    ['copy --all-tags', 'int/alltags', (dst) => ['copy', '--all-tags', `${registry.host}/src/app`, `${proxy.host}/${dst}`], 'SIGINT'],
    ['mutate into a registry', 'int/mutate', (dst) => ['mutate', `${registry.host}/src/app:1`, `${proxy.host}/${dst}:1`, '--label', 'a=b'], 'SIGTERM'],
    ['index create into a registry', 'int/index', (dst) => ['index', 'create', '--tag', `${proxy.host}/${dst}:1`, `${registry.host}/src/app:1`], 'SIGINT'],
    ['attach', 'int/attach', (dst) => ['attach', `${proxy.host}/${dst}:1`, join(tmp.path, 'notes.bin'), '--artifact-type', 'application/vnd.example.notes'], 'SIGINT'],
    ['sign', 'int/sign', (dst) => ['sign', `${proxy.host}/${dst}:1`, '--key', join(tmp.path, 'k.key')], 'SIGTERM'],
    ['rebase into a registry', 'int/rebase', (dst) => ['rebase', `${registry.host}/int/child:1`, `${proxy.host}/${dst}:1`, '--old-base', `${registry.host}/src/app:1`, '--new-base', `${registry.host}/src/newbase:1`], 'SIGTERM'],
    ['build --push', 'int/build', (dst) => ['build', join(tmp.path, 'rootfs'), '--layout', join(tmp.path, 'built'), '--tag', 'b', '--push', `${proxy.host}/${dst}:1`], 'SIGINT'],
  ];
  before(async () => {
    writeFileSync(join(tmp.path, 'notes.bin'), randomBytes(2 * MiB));
    mkdirSync(join(tmp.path, 'rootfs'), { recursive: true });
    writeFileSync(join(tmp.path, 'rootfs', 'big.bin'), randomBytes(2 * MiB));
    for (const to of ['src/app:2', 'int/attach:1', 'int/sign:1']) assertOk(await runCliAsync(['copy', `${registry.host}/src/app:1`, `${registry.host}/${to}`], { env }));
    const newBase = umociImage(join(tmp.path, 'newbase'), 'nb', [MiB]);
    assertOk(await runCliAsync(['push', `${registry.host}/src/newbase:1`, '--layout', newBase.layout], { env }));
    assertOk(await runCliAsync(['build', join(tmp.path, 'rootfs'), '--base', `${registry.host}/src/app:1`, '--layout', join(tmp.path, 'child'), '--tag', 'c', '--push', `${registry.host}/int/child:1`], { env }));
    assertOk(await runCliAsync(['generate-key-pair', '--output-prefix', join(tmp.path, 'k')], { env: { ...env, COSIGN_PASSWORD: 'pw' } }));
  });
  for (const [verb, repo, args, signal] of cases) {
    it(`${verb}, ${signal} with a blob's PUT held: ${signal === 'SIGINT' ? 130 : 143}, one line, its session deleted`, async () => {
      const started = anyPut();
      const r = await interrupted(args(repo), signal, started, { COSIGN_PASSWORD: 'pw' });
      assert.equal(r.status, signal === 'SIGINT' ? 130 : 143, r.stderr);
      assert.equal(oneLine(r.stderr).length, 1, r.stderr);
      assert.match(oneLine(r.stderr)[0]!, new RegExp(`interrupted by ${signal}`));
      await assertSessionsGone(repo);
    });
  }
});

describe('uploads at once, not interrupted', () => {
  it('push --concurrency 16 with more than ten uploads in flight: no MaxListenersExceededWarning on stderr', async () => {
    const many = umociImage(join(tmp.path, 'many'), 'many', Array.from({ length: 12 }, () => 4096));
    // Each blob's closing PUT waits at the proxy until eleven are there: that many in flight at once.
    let arrived = 0;
    let all!: () => void;
    const together = new Promise<void>((resolve) => { all = resolve; });
    proxy.addFault({
      method: 'PUT',
      path: /\/blobs\/uploads\//,
      times: Infinity,
      fault: { kind: 'around', before: () => { if (++arrived >= 11) all(); return together; }, after: () => {} },
    });
    const r = await runCliAsync(['push', `${proxy.host}/int/many:1`, '--layout', many.layout, '--tag', 'many', '--concurrency', '16'], { env });
    assertOk(r);
    assert.ok(arrived >= 11, `${arrived} uploads at once`);
    assert.doesNotMatch(r.stderr, /Warning/);
  });
});
