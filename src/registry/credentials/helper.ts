import { spawn } from 'node:child_process';
import { OcipushError } from '../../errors.js';
import { secretCredentials } from '../auth/secret.js';
import type { Credentials } from '../auth/types.js';

export interface HelperOptions {
  /** Where the helper was named, for messages: `credsStore in /root/.docker/config.json`. */
  origin: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

const MAX_OUTPUT = 1024 * 1024;
/** Helpers may unlock a keyring and ask the user (pass, gpg pinentry): give them time, not forever. */
const DEFAULT_TIMEOUT_MS = 120_000;

/**
 * Runs `docker-credential-<name> get` with the server URL on stdin, as docker does, and reads
 * `{"ServerURL", "Username", "Secret"}`. A `<token>` username means the secret is an identity
 * (refresh) token. "credentials not found" is no credentials, not an error.
 */
export async function runCredentialHelper(name: string, serverUrl: string, options: HelperOptions): Promise<Credentials | undefined> {
  const program = `docker-credential-${name}`;
  if (!/^[A-Za-z0-9._-]+$/.test(name)) {
    throw new OcipushError('EAUTH', `invalid credential helper name "${name}" (${options.origin})`);
  }
  const result = await runHelper(program, serverUrl, options);
  if (result.spawnError) {
    const e = result.spawnError as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'is not installed (not found on PATH)' : `cannot be run: ${e.code ?? e.message}`;
    throw new OcipushError('EAUTH', `docker credential helper ${program} ${why}; it is named by ${options.origin}`, { helper: program });
  }
  if (result.timedOut) {
    throw new OcipushError('EAUTH', `docker credential helper ${program} did not answer within ${(options.timeoutMs ?? DEFAULT_TIMEOUT_MS) / 1000}s`, { helper: program });
  }
  if (result.code !== 0) {
    const message = firstLine(result.stdout) || firstLine(result.stderr) || `exit code ${result.code}`;
    if (/credentials not found/i.test(message)) return undefined;
    throw new OcipushError('EAUTH', `docker credential helper ${program} failed for ${serverUrl}: ${message}`, { helper: program });
  }
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(result.stdout) as Record<string, unknown>;
  } catch {
    // JSON.parse quotes its input in the message, and the input holds the secret.
    throw new OcipushError('EAUTH', `docker credential helper ${program} answered with output that is not JSON`, { helper: program });
  }
  const username = typeof parsed?.Username === 'string' ? parsed.Username : '';
  const secret = typeof parsed?.Secret === 'string' ? parsed.Secret : '';
  if (!secret) return undefined;
  if (username === '<token>') return secretCredentials({ identityToken: secret });
  return secretCredentials({ username, password: secret });
}

interface HelperResult {
  code: number | null;
  stdout: string;
  stderr: string;
  spawnError?: Error;
  timedOut?: boolean;
}

function runHelper(program: string, serverUrl: string, options: HelperOptions): Promise<HelperResult> {
  return new Promise((resolve) => {
    const child = spawn(program, ['get'], { env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    child.stdout.setEncoding('utf8').on('data', (s: string) => { if (stdout.length < MAX_OUTPUT) stdout += s; });
    child.stderr.setEncoding('utf8').on('data', (s: string) => { if (stderr.length < MAX_OUTPUT) stderr += s; });
    child.stdin.on('error', () => undefined); // a helper that exits without reading stdin
    child.once('error', (spawnError) => { clearTimeout(timer); resolve({ code: null, stdout, stderr, spawnError }); });
    child.once('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr, timedOut }); });
    // docker writes the bare URL, no newline.
    child.stdin.end(serverUrl);
  });
}

function firstLine(text: string): string {
  const line = text.split('\n').map((l) => l.trim()).find(Boolean) ?? '';
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}
