import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OcipushError } from '../../src/errors.js';
import { RegistryClient } from '../../src/registry/http.js';
import { Repository } from '../../src/registry/repository.js';
import { tempDir } from '../support/tools.js';
import { runCliAsync } from '../cli/registry-support.js';
import { nonLoopbackAddress } from '../support/relay.js';

/** A server that accepts connections, reads what it is sent, and never answers. */
async function silentServer(address = '127.0.0.1'): Promise<{ server: Server; host: string; connections: () => number; stop: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  let count = 0;
  const server = createServer((socket) => {
    count++;
    sockets.add(socket);
    socket.on('data', () => {});
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, address, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    host: `${address}:${port}`,
    connections: () => count,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('a registry that accepts connections and never answers', () => {
  let silent: Awaited<ReturnType<typeof silentServer>>;
  let tmp: { path: string; cleanup: () => Promise<void> };
  before(async () => { silent = await silentServer(); tmp = await tempDir(); });
  after(async () => { await silent?.stop(); await tmp?.cleanup(); });

  /**
   * Resolves a tag on the silent server with a 1 s operation, 50 ms attempts and an injected clock
   * whose every reading moves 100 ms on; returns the error and the retries it made.
   */
  const resolveWithClock = async (retry: { retries: number; delayMs: number }): Promise<{ err: unknown; retries: number[] }> => {
    let clock = 0;
    const retries: number[] = [];
    const client = new RegistryClient(silent.host, {
      plainHttp: true,
      timeouts: { requestMs: 50, operationMs: 1_000 },
      retry: { retries: retry.retries, baseDelayMs: retry.delayMs, maxDelayMs: retry.delayMs, maxRetryAfterMs: retry.delayMs },
      onRetry: (n) => retries.push(n.attempt),
      now: () => (clock += 100),
    });
    try {
      return { err: await new Repository(client, 'never/answers').resolve('v1').then(() => undefined, (e: unknown) => e), retries };
    } finally {
      await client.destroy();
    }
  };

  it('the operation fails once its total time is spent, not after every attempt has waited the per-request timeout', async () => {
    // The deadline is reached after a bounded number of attempts.
    const { err, retries } = await resolveWithClock({ retries: 1_000, delayMs: 1 });
    assert.ok(err instanceof OcipushError, String(err));
    assert.equal(err.code, 'ENETWORK');
    assert.equal(err.details.retryable, false);
    assert.match(err.message, /^cannot reach 127\.0\.0\.1:\d+: check manifest never\/answers:v1: no complete answer within 1 s \(--timeout; each attempt waits up to 0\.05 s, --request-timeout\)$/);
    // Far fewer than the 1000 retries the policy allows: the operation's time bounds them.
    assert.ok(retries.length >= 1 && retries.length < 10, `${retries.length} retries`);
  });

  it('a timed-out attempt with no time left for the wait before a retry ends in the operation\'s timeout, not in the attempt\'s', async () => {
    // The deadline is at 1100, the attempt times out (for real, after 50 ms) with time left, but
    // the wait before a retry (800 ms or more) would end past the deadline.
    const { err, retries } = await resolveWithClock({ retries: 5, delayMs: 1_000 });
    assert.ok(err instanceof OcipushError, String(err));
    assert.match(err.message, /: no complete answer within 1 s \(--timeout; each attempt waits up to 0\.05 s, --request-timeout\)$/);
    assert.deepEqual(retries, []);
  });

  it('over HTTPS, a host that takes the connection and never answers the TLS handshake: each attempt waits the request timeout, not 30 s', { timeout: 20_000 }, async () => {
    // Not loopback, so HTTPS from the first request (loopback asks plain HTTP first).
    const tlsSilent = await silentServer(nonLoopbackAddress());
    let clock = 0;
    const client = new RegistryClient(tlsSilent.host, {
      timeouts: { requestMs: 50, operationMs: 1_000 },
      retry: { retries: 1_000, baseDelayMs: 1, maxDelayMs: 1, maxRetryAfterMs: 1 },
      now: () => (clock += 100),
    });
    try {
      const err = await new Repository(client, 'never/answers').resolve('v1').then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof OcipushError, String(err));
      assert.equal(err.code, 'ENETWORK');
      assert.match(err.message, /^cannot reach [\d.]+:\d+: check manifest never\/answers:v1: no complete answer within 1 s \(--timeout; each attempt waits up to 0\.05 s, --request-timeout\)$/);
      assert.ok(tlsSilent.connections() >= 2, `attempts made: ${tlsSilent.connections()}`);
    } finally {
      await client.destroy();
      await tlsSilent.stop();
    }
  });

  it('the CLI takes --timeout and --request-timeout (and OCIPUSH_TIMEOUT): one line, exit 1, valid --json', async () => {
    const flags = await runCliAsync(['pull', `${silent.host}/never/answers:v1`, '--layout', join(tmp.path, 'a'), '--timeout', '1s', '--request-timeout', '200ms', '--json']);
    assert.equal(flags.status, 1, flags.stderr);
    assert.deepEqual(flags.stderr.trimEnd().split('\n').filter((l) => !/retrying in/.test(l)).length, 1, flags.stderr);
    assert.match(flags.stderr.trimEnd().split('\n').at(-1)!, /^ocipush: cannot reach 127\.0\.0\.1:\d+: fetch manifest never\/answers:v1: no complete answer within 1 s \(--timeout; each attempt waits up to 0\.2 s/);
    assert.equal((JSON.parse(flags.stdout) as { error: { code: string } }).error.code, 'ENETWORK');

    const env = await runCliAsync(['pull', `${silent.host}/never/answers:v1`, '--layout', join(tmp.path, 'b')], { env: { OCIPUSH_TIMEOUT: '0.6', OCIPUSH_REQUEST_TIMEOUT: '0.2' } });
    assert.equal(env.status, 1, env.stderr);
    assert.match(env.stderr, /no complete answer within 0\.6 s \(--timeout; each attempt waits up to 0\.2 s/);
  });

  it('a proxy (HTTPS_PROXY) that takes the connection and never answers the CONNECT: one line naming the proxy after --timeout, not a wait of minutes', { timeout: 60_000 }, async () => {
    // Loopback is never proxied: a registry on this machine's other address goes through it.
    const registry = `${nonLoopbackAddress()}:5443`;
    const before = silent.connections();
    const proxied = await runCliAsync(['pull', `${registry}/never/answers:v1`, '--layout', join(tmp.path, 'd'), '--timeout', '1s', '--request-timeout', '200ms'], {
      env: { HTTPS_PROXY: `http://${silent.host}`, https_proxy: undefined, NO_PROXY: undefined, no_proxy: undefined },
    });
    assert.equal(proxied.status, 1, proxied.stderr);
    assert.match(proxied.stderr.trimEnd().split('\n').at(-1)!, new RegExp(`^ocipush: proxy ${silent.host.replace(/\./g, '\\.')} \\(from HTTPS_PROXY\\) did not answer the CONNECT to ${registry.replace(/\./g, '\\.')} in time \\(--request-timeout\\)$`));
    assert.ok(silent.connections() > before, 'the request went to the proxy');
  });

  it('copy takes --timeout and --request-timeout for both sides, as pull does', { timeout: 60_000 }, async () => {
    const copied = await runCliAsync(['copy', `${silent.host}/never/answers:v1`, `oci:${join(tmp.path, 'e')}:v1`, '--timeout', '1s', '--request-timeout', '200ms']);
    assert.equal(copied.status, 1, copied.stderr);
    assert.match(copied.stderr.trimEnd().split('\n').at(-1)!, /^ocipush: cannot reach 127\.0\.0\.1:\d+: fetch manifest never\/answers:v1: no complete answer within 1 s \(--timeout; each attempt waits up to 0\.2 s, --request-timeout\)$/);
    const bad = await runCliAsync(['copy', `${silent.host}/never/answers:v1`, `oci:${join(tmp.path, 'e')}:v1`, '--request-timeout', 'soon']);
    assert.equal(bad.status, 2, bad.stderr);
    assert.match(bad.stderr, /^ocipush: --request-timeout "soon": expected a duration such as 120, 90s, 500ms or 5m\n$/);
  });

  it('a bad duration is a usage error naming the flag', async () => {
    const r = await runCliAsync(['pull', `${silent.host}/never/answers:v1`, '--layout', join(tmp.path, 'c'), '--timeout', 'soon']);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /^ocipush: --timeout "soon": expected a duration such as 120, 90s, 500ms or 5m\n$/);
  });
});
