import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type RunningRegistry } from '../../support/registry.js';
import { CLI, requireTool, tempDir } from '../../support/tools.js';
import { assertOk, runCliAsync } from '../../cli/registry-support.js';
import { envWith, PASSWORD } from '../../cli/copy-support.js';

/**
 * `login` killed with SIGKILL (an OOM kill, a CI job's timeout) while it writes config.json: strace
 * kills it as it enters fsync of the new file's temp, one libuv thread making that the first.
 */
let tmp: { path: string; cleanup: () => Promise<void> };
let registry: RunningRegistry;

before(async () => {
  tmp = await tempDir();
  registry = await startRegistry({ auth: { htpasswd: { users: { alice: PASSWORD } } } });
});
after(async () => {
  await registry?.stop();
  await tmp?.cleanup();
});

describe('login killed with SIGKILL while it writes config.json', () => {
  it('leaves config.json as it was; the temp beside it, the login in it, is removed by the next login', async () => {
    requireTool('strace');
    const dir = join(tmp.path, 'docker');
    mkdirSync(dir);
    const before = `${JSON.stringify({ auths: { 'other.example': { auth: 'b3RoZXI6b3RoZXI=' } }, experimental: 'enabled' }, null, '\t')}\n`;
    writeFileSync(join(dir, 'config.json'), before, { mode: 0o600 });
    // Asynchronous: the registry's process is this one's child, its output read here.
    const killed = await new Promise<{ signal?: string | null; code?: number | null } | undefined>((done) => {
      const child = execFile('strace', ['-f', '-qq', '-o', '/dev/null', '-e', 'trace=fsync', '-e', 'inject=fsync:signal=KILL:when=1',
        process.execPath, CLI, 'login', registry.host, '-u', 'alice', '--password-stdin'],
      { env: { ...process.env, ...envWith(dir), UV_THREADPOOL_SIZE: '1' } }, (err) => done(err ? (err as { signal?: string; code?: number }) : undefined));
      child.stdin!.end(`${PASSWORD}\n`);
    });
    // strace ends as its tracee did.
    assert.ok(killed && (killed.signal === 'SIGKILL' || killed.code === 128 + 9), 'killed at the fsync, not finished');
    assert.equal(readFileSync(join(dir, 'config.json'), 'utf8'), before, 'config.json is the file it was, whole');
    const temps = readdirSync(dir).filter((n) => n.startsWith('.config.json.tmp-'));
    assert.equal(temps.length, 1, `the killed login's temp: ${readdirSync(dir).join(' ')}`);
    assert.match(readFileSync(join(dir, temps[0]!), 'utf8'), /"auth": "/, 'it holds the logins');
    // Written 2 minutes ago, as far as the file system says: the test sets the file's time, not the clock.
    const then = new Date(Date.now() - 120_000);
    utimesSync(join(dir, temps[0]!), then, then);

    assertOk(await runCliAsync(['login', registry.host, '-u', 'alice', '--password-stdin'], { env: envWith(dir), input: `${PASSWORD}\n` }));
    // The killed login's lock, broken, lies in its grave until the stale period has passed (content/lock.ts).
    assert.deepEqual(readdirSync(dir).filter((n) => !n.startsWith('.config.json.lock')), ['config.json'], 'the killed login\'s temp is gone');
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    assert.equal(config.experimental, 'enabled');
    assert.deepEqual(Object.keys(config.auths).sort(), ['other.example', registry.host].sort());
  });
});
