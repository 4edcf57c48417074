import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { build, push, staticCredentials } from '../../src/index.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { startTokenIssuer, type TokenIssuer } from '../support/token-issuer.js';
import { tempDir } from '../support/tools.js';
import { skopeoDigestAsync } from '../registry/support.js';

const PASSWORD = 'abort-token-5e2a';
const LIBRARY = fileURLToPath(new URL('../../src/index.js', import.meta.url));

/**
 * A script of a user's own: one library call with an AbortSignal, against a registry whose token
 * service sheds load with `Retry-After: 120` (a wait the retry policy caps at 60 s, within the
 * default timeout: a longer one than the timeout leaves fails at once, registry/retry-after.test). The first
 * retry notice aborts the call. The script prints what the call rejected with and returns; Node
 * exits once nothing is left to do, which is what a release script that gives up expects.
 */
const SCRIPT = `
const { build, push, pull, copy, staticCredentials } = await import(process.argv[2]);
const { verb, options, registry } = JSON.parse(process.argv[3]);
const controller = new AbortController();
let settled = false;
const notices = { before: 0, after: 0 };
const call = { push, pull, copy }[verb]({
  ...options,
  credentials: staticCredentials(registry, { username: 'alice', password: ${JSON.stringify(PASSWORD)} }),
  signal: controller.signal,
  onRetry: () => { notices[settled ? 'after' : 'before']++; controller.abort(); },
});
const err = await call.then(() => undefined, (e) => e);
settled = true;
process.on('exit', () => console.log(JSON.stringify({ code: err?.code, message: err?.message, notices })));
`;

describe('push, pull and copy while the token service asks to wait: an AbortSignal or the timeout ends them', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let issuer: TokenIssuer;
  let proxy: FaultProxy;
  let registry: RunningRegistry;
  let plain: RunningRegistry;
  let layout: string;
  let script: string;

  before(async () => {
    tmp = await tempDir('ocipush-abort-token-');
    issuer = await startTokenIssuer({ users: { alice: { password: PASSWORD } } });
    proxy = await startFaultProxy({ target: issuer.url });
    registry = await startRegistry({ auth: { token: { realm: `${proxy.url}/token`, service: issuer.service, issuer: issuer.issuer, certFile: issuer.certFile } } });
    plain = await startRegistry();
    const rootfs = join(tmp.path, 'rootfs');
    mkdirSync(rootfs);
    writeFileSync(join(rootfs, 'hello'), 'hello\n');
    layout = join(tmp.path, 'layout');
    await build({ rootfs, layout, tag: 'v1' });
    await push({ layout, tag: 'v1', to: `${registry.host}/team/src:v1`, credentials: staticCredentials(registry.host, { username: 'alice', password: PASSWORD }) });
    script = join(tmp.path, 'user-script.mjs');
    writeFileSync(script, SCRIPT);
  });
  after(async () => {
    await registry?.stop();
    await plain?.stop();
    await proxy?.stop();
    await issuer?.stop();
    await tmp?.cleanup();
  });

  /** Runs the user's script; it must have exited by itself (a kill after 30 s, half the capped wait, is the failure). */
  async function runScript(verb: string, options: Record<string, unknown>): Promise<{ code?: string; message?: string; notices: { before: number; after: number } }> {
    proxy.clearFaults();
    proxy.clearRequests();
    proxy.addFault({ path: /^\/token/, times: Infinity, fault: { kind: 'respond', status: 503, headers: { 'retry-after': '120' } } });
    const r = await new Promise<{ error: (Error & { killed?: boolean }) | null; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [script, LIBRARY, JSON.stringify({ verb, options, registry: registry.host })], { timeout: 30_000 }, (error, stdout, stderr) => resolve({ error, stdout, stderr }));
    });
    assert.ok(!r.error?.killed, `${verb}: the script did not end: what the aborted call started (a token retry's wait) went on behind it\n${r.stderr}`);
    assert.equal(r.error, null, r.stderr);
    assert.equal(r.stderr, '', 'the library writes nothing to stderr');
    return JSON.parse(r.stdout) as { code?: string; message?: string; notices: { before: number; after: number } };
  }

  function tokenRequests(): number {
    return proxy.requests().filter((r) => r.path.startsWith('/token')).length;
  }

  it('push: EABORTED, the token service asked once, no retry notice after the rejection, the process exits', async () => {
    const out = await runScript('push', { layout, tag: 'v1', to: `${registry.host}/team/pushed:v1` });
    assert.equal(out.code, 'EABORTED', out.message);
    assert.deepEqual(out.notices, { before: 1, after: 0 });
    assert.equal(tokenRequests(), 1);
    proxy.clearFaults();
    await assert.rejects(skopeoDigestAsync(`${registry.host}/team/pushed:v1`, ['--creds', `alice:${PASSWORD}`]), /manifest unknown/i);
  });

  it('pull: EABORTED at once (not after five waits), the layout not made, the process exits', async () => {
    const into = join(tmp.path, 'pulled');
    const out = await runScript('pull', { from: `${registry.host}/team/src:v1`, layout: into });
    assert.equal(out.code, 'EABORTED', out.message);
    assert.deepEqual(out.notices, { before: 1, after: 0 });
    assert.equal(tokenRequests(), 1);
    assert.equal(existsSync(into), false);
  });

  it('copy from the registry: EABORTED at once, nothing written to the destination, the process exits', async () => {
    const out = await runScript('copy', { from: `${registry.host}/team/src:v1`, to: `${plain.host}/copied/app:v1` });
    assert.equal(out.code, 'EABORTED', out.message);
    assert.deepEqual(out.notices, { before: 1, after: 0 });
    assert.equal(tokenRequests(), 1);
    await assert.rejects(skopeoDigestAsync(`${plain.host}/copied/app:v1`), /manifest unknown/i);
  });

  // `timeout` bounds an operation with its retries and their waits: the token request's too. A wait
  // of 60 s (Retry-After: 120, capped) does not fit in 10 s, so it is not begun (a retry notice
  // would abort the script: EABORTED); the token service's answer is the error, at once.
  for (const verb of ['push', 'pull']) {
    it(`${verb} with timeout: 10 s: the token service's 503 is reported at once, not retried past the timeout`, async () => {
      const options = verb === 'push'
        ? { layout, tag: 'v1', to: `${registry.host}/team/timed:v1`, timeout: 10_000 }
        : { from: `${registry.host}/team/src:v1`, layout: join(tmp.path, 'timed'), timeout: 10_000 };
      const out = await runScript(verb, options);
      assert.equal(out.code, 'EREGISTRY', out.message);
      assert.match(out.message!, /^token service 127\.0\.0\.1:\d+ for 127\.0\.0\.1:\d+ answered 503/);
      assert.deepEqual(out.notices, { before: 0, after: 0 });
      assert.equal(tokenRequests(), 1);
    });
  }
});
