import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parsePrivateKey, signBytes } from '../../src/supply-chain/keys.js';
import { CLI, requireTool, run, tempDir } from '../support/tools.js';

/**
 * generate-key-pair ended by a signal as it puts a file under its name: strace delivers it as the
 * process enters the first syscall that names that file for writing (a write to it, or a link to it).
 */
let tmp: { path: string; cleanup: () => Promise<void> };
before(async () => { tmp = await tempDir(); });
after(async () => { await tmp?.cleanup(); });

const PASSWORD = 'gen-pw-3f1c';

function generate(prefix: string, signal?: { at: string; name: 'KILL' | 'INT' }) {
  const cli = [process.execPath, CLI, 'generate-key-pair', '--output-prefix', prefix];
  const args = signal ? ['-f', '-qq', '-o', '/dev/null', '-P', signal.at, '-e', 'trace=write,link,linkat', '-e', `inject=write,link,linkat:signal=${signal.name}`, ...cli] : cli;
  const r = spawnSync(signal ? 'strace' : cli[0]!, signal ? args : cli.slice(1), { env: { ...process.env, COSIGN_PASSWORD: PASSWORD }, encoding: 'utf8' });
  return { ...r, killed: r.signal === 'SIGKILL' || r.status === 128 + 9 };
}

/** The pair works: openssl reads the public key and checks a signature the private key made. */
async function assertPair(prefix: string): Promise<void> {
  const key = await parsePrivateKey(readFileSync(`${prefix}.key`, 'utf8'), `${prefix}.key`, async () => Buffer.from(PASSWORD));
  const payload = `${prefix}.payload`;
  writeFileSync(payload, 'payload');
  writeFileSync(`${payload}.sig`, signBytes(key, readFileSync(payload)));
  assert.match(run('openssl', ['dgst', '-sha256', '-verify', `${prefix}.pub`, '-signature', `${payload}.sig`, payload]), /Verified OK/);
}

describe('generate-key-pair ended by a signal', () => {
  it('SIGKILL as it writes the private key: no empty or half key under its name to block the next run, which writes the pair and clears the killed one\'s temps', async () => {
    requireTool('strace');
    requireTool('openssl');
    const dir = join(tmp.path, 'killed');
    mkdirSync(dir);
    const prefix = join(dir, 'release');
    assert.ok(generate(prefix, { at: `${prefix}.key`, name: 'KILL' }).killed, 'killed, not finished');
    if (existsSync(`${prefix}.key`)) await assertPair(prefix); // whole, if anything is there at all
    assert.ok(!existsSync(`${prefix}.pub`), 'no public key without its private key');
    // The killed run's temps, untouched for two minutes as the file system says: the test sets their time, not the clock.
    const then = new Date(Date.now() - 120_000);
    for (const name of readdirSync(dir)) utimesSync(join(dir, name), then, then);

    const r = generate(prefix);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(readdirSync(dir).sort(), ['release.key', 'release.pub'], 'the killed run\'s temps are gone');
    await assertPair(prefix);
  });

  it('SIGINT as it links the public key: exit 130, and the pair whole or nothing, no temp left', async () => {
    requireTool('strace');
    requireTool('openssl');
    const dir = join(tmp.path, 'interrupted');
    mkdirSync(dir);
    const prefix = join(dir, 'release');
    const r = generate(prefix, { at: `${prefix}.pub`, name: 'INT' });
    assert.equal(r.status, 130, r.stderr);
    const left = readdirSync(dir).sort();
    assert.ok(left.length === 0 || JSON.stringify(left) === '["release.key","release.pub"]', `nothing, or the pair: ${left.join(' ')}`);
    if (left.length > 0) await assertPair(prefix);
  });
});
