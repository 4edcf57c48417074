import assert from 'node:assert/strict';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OcipushError } from '../../../src/errors.js';
import { runCredentialHelper } from '../../../src/registry/credentials/helper.js';
import { tempDir } from '../../support/tools.js';

/**
 * Helpers that leave a process behind holding their stdout open (a keyring agent, a stuck
 * subprocess): the helper is bounded by its timeout, not by whatever it started.
 */
describe('a credential helper that keeps stdout open', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let env: NodeJS.ProcessEnv;
  const pidFiles: string[] = [];

  before(async () => {
    dir = await tempDir();
    // Starts a child that inherits stdout and outlives the helper, and records its pid to be killed after the test.
    const script = (answer: string) => `#!/bin/sh\nsleep 3600 &\necho $! > "$PID_FILE"\n${answer}\n`;
    writeFileSync(join(dir.path, 'docker-credential-stuck'), script('wait'));
    writeFileSync(join(dir.path, 'docker-credential-lingering'), script('echo \'{"ServerURL":"r.example","Username":"u","Secret":"lingering-secret"}\''));
    for (const name of ['stuck', 'lingering']) chmodSync(join(dir.path, `docker-credential-${name}`), 0o755);
    env = { ...process.env, PATH: `${dir.path}:${process.env.PATH}` };
  });
  after(async () => {
    for (const file of pidFiles) {
      try { process.kill(Number(readFileSync(file, 'utf8').trim())); } catch { /* gone already */ }
    }
    await dir?.cleanup();
  });

  it('is given up after its timeout (settable: OCIPUSH_CREDENTIAL_HELPER_TIMEOUT), though its child still holds stdout', { timeout: 30_000 }, async () => {
    const pidFile = join(dir.path, 'stuck.pid');
    pidFiles.push(pidFile);
    const err = await runCredentialHelper('stuck', 'r.example', { origin: 'credsStore in test', env: { ...env, PID_FILE: pidFile, OCIPUSH_CREDENTIAL_HELPER_TIMEOUT: '0.5' } })
      .then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof OcipushError, String(err));
    assert.equal(err.code, 'EAUTH');
    assert.equal(err.message, 'docker credential helper docker-credential-stuck did not answer within 0.5s');
  });

  it('that answered and exited is read, though a process it left holds stdout open', { timeout: 30_000 }, async () => {
    const pidFile = join(dir.path, 'lingering.pid');
    pidFiles.push(pidFile);
    const creds = await runCredentialHelper('lingering', 'r.example', { origin: 'credsStore in test', env: { ...env, PID_FILE: pidFile }, timeoutMs: 60_000 });
    assert.equal(creds?.username, 'u');
    assert.equal(creds?.password, 'lingering-secret');
  });
});
