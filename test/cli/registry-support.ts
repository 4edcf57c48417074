import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { killOnExit } from '../support/exit-cleanup.js';
import { CLI, type RunResult } from '../support/tools.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Runs the real CLI without blocking this process: the token issuer and the fault proxy live in
 * the test process and must keep answering while the CLI runs.
 */
export function runCliAsync(args: string[], options: CliOptions = {}): Promise<RunResult> {
  return startCli(args, options).done.then(({ status, stdout, stderr }) => ({ status, stdout, stderr }));
}

interface CliOptions { input?: string; env?: NodeJS.ProcessEnv; cwd?: string }

/**
 * The real CLI started without waiting for it, for what a test does while it runs (a signal once
 * a proxy saw a request, a second process beside it): its process, and its end with all it printed.
 */
export function startCli(args: string[], options: CliOptions = {}): { child: ChildProcess; done: Promise<RunResult & { signal: NodeJS.Signals | null }> } {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const forget = killOnExit(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
  child.stdin.end(options.input ?? '');
  const done = new Promise<RunResult & { signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (status, signal) => { forget(); resolve({ status, signal, stdout, stderr }); });
  });
  return { child, done };
}

export function assertOk(r: RunResult): void {
  assert.equal(r.status, 0, `exit status (stderr: ${r.stderr})`);
}

/** Failed with exactly one line on stderr matching `pattern`, nothing on stdout. */
export function assertOneLineError(r: RunResult, pattern: RegExp, status = 1): void {
  assert.equal(r.status, status, `exit status (stderr: ${r.stderr})`);
  assert.equal(r.stdout, '');
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line on stderr: ${r.stderr}`);
  assert.match(lines[0]!, pattern);
}

/**
 * Two registries behind htpasswd (Basic) auth, a user each: `images` (alice) and `other` (bob),
 * and a Docker config (`dockerConfig`, a DOCKER_CONFIG directory under `dir`) holding bob's login
 * for `other` alone. For tests that a credential given for one host never reaches the other.
 */
export async function registriesWithOwnLogins(dir: string, passwords: { alice: string; bob: string }): Promise<{ images: RunningRegistry; other: RunningRegistry; dockerConfig: string }> {
  const [images, other] = await Promise.all([
    startRegistry({ auth: { htpasswd: { users: { alice: passwords.alice } } } }),
    startRegistry({ auth: { htpasswd: { users: { bob: passwords.bob } } } }),
  ]);
  const dockerConfig = join(dir, 'docker');
  mkdirSync(dockerConfig, { recursive: true });
  writeFileSync(join(dockerConfig, 'config.json'), JSON.stringify({ auths: { [other.host]: { auth: Buffer.from(`bob:${passwords.bob}`).toString('base64') } } }));
  return { images, other, dockerConfig };
}
