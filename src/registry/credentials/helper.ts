import { spawn } from 'node:child_process';
import { OcipushError } from '../../errors.js';
import { secretCredentials } from '../auth/secret.js';
import { registerBasic } from '../../redact.js';
import type { Credentials } from '../auth/types.js';

export interface HelperOptions {
  /** Where the helper was named, for messages: `credsStore in /root/.docker/config.json`. */
  origin: string;
  env?: NodeJS.ProcessEnv;
  /** Default: OCIPUSH_CREDENTIAL_HELPER_TIMEOUT (seconds) in `env`, else 120 s. */
  timeoutMs?: number;
}

const MAX_OUTPUT = 1024 * 1024;
/** Helpers may unlock a keyring and ask the user (pass, gpg pinentry): give them time, not forever. */
const DEFAULT_TIMEOUT_MS = 120_000;
/** After the helper exits, how long a process it left behind may keep its output open. */
const EXIT_GRACE_MS = 1_000;

export function helperTimeout(options: { env?: NodeJS.ProcessEnv; timeoutMs?: number }): number {
  if (options.timeoutMs !== undefined) return options.timeoutMs;
  const text = (options.env ?? process.env).OCIPUSH_CREDENTIAL_HELPER_TIMEOUT;
  const seconds = text === undefined ? NaN : Number(text);
  return Number.isFinite(seconds) && seconds > 0 ? Math.round(seconds * 1000) : DEFAULT_TIMEOUT_MS;
}

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
  const timeoutMs = helperTimeout(options);
  const result = await runHelperProcess(program, 'get', serverUrl, options.env ?? process.env, timeoutMs);
  if (result.spawnError) {
    const e = result.spawnError as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'is not installed (not found on PATH)' : `cannot be run: ${e.code ?? e.message}`;
    throw new OcipushError('EAUTH', `docker credential helper ${program} ${why}; it is named by ${options.origin}`, { helper: program });
  }
  if (result.timedOut) {
    throw new OcipushError('EAUTH', `docker credential helper ${program} did not answer within ${timeoutMs / 1000}s`, { helper: program });
  }
  if (result.code !== 0) {
    // A helper that prints its answer and still fails: the secret is known from now on, wherever it is quoted.
    rememberSecrets(result.stdout);
    rememberSecrets(result.stderr);
    const message = firstLine(result.stdout) || firstLine(result.stderr) || `exit code ${result.code}`;
    if (/credentials not found/i.test(message)) return undefined;
    throw new OcipushError('EAUTH', `docker credential helper ${program} failed for ${serverUrl}: ${message}`, { helper: program });
  }
  let parsed: Record<string, unknown>;
  try {
    parsed = firstJsonValue(result.stdout) as Record<string, unknown>;
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

export interface HelperResult {
  code: number | null;
  stdout: string;
  stderr: string;
  spawnError?: Error;
  timedOut?: boolean;
}

/**
 * Runs the helper, bounded by `timeoutMs` whatever it does: killed when it runs too long, and its
 * output not waited for beyond that (a process it started may hold the pipes open after it is
 * killed). Once it has exited, whatever it left behind gets a moment to close the pipes.
 */
export function runHelperProcess(program: string, action: 'get' | 'store' | 'erase', input: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<HelperResult> {
  return new Promise((resolve) => {
    const child = spawn(program, [action], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let done = false;
    let grace: NodeJS.Timeout | undefined;
    const finish = (result: Omit<HelperResult, 'stdout' | 'stderr'>) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(grace);
      child.stdout.destroy();
      child.stderr.destroy();
      resolve({ ...result, stdout, stderr });
    };
    const timer = setTimeout(() => { child.kill('SIGKILL'); finish({ code: null, timedOut: true }); }, timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (s: string) => { if (stdout.length < MAX_OUTPUT) stdout += s; });
    child.stderr.setEncoding('utf8').on('data', (s: string) => { if (stderr.length < MAX_OUTPUT) stderr += s; });
    child.stdin.on('error', () => undefined); // a helper that exits without reading stdin
    child.once('error', (spawnError) => finish({ code: null, spawnError }));
    child.once('exit', (code) => { grace = setTimeout(() => finish({ code }), EXIT_GRACE_MS); });
    child.once('close', (code) => finish({ code }));
    // docker writes the bare URL (get, erase) or the JSON (store), no newline.
    child.stdin.end(input);
  });
}

function rememberSecrets(output: string): void {
  for (const line of output.split('\n')) {
    try {
      const value = JSON.parse(line) as { Secret?: unknown; Username?: unknown };
      if (typeof value?.Secret === 'string') registerBasic(typeof value.Username === 'string' ? value.Username : undefined, value.Secret);
    } catch {
      // Not JSON: the patterns of redact() still take out a `"Secret":"…"` that is quoted.
    }
  }
}

/**
 * The first JSON value of a helper's answer. docker, skopeo and crane read it with Go's
 * json.Decoder, which stops at the end of that value: a log line a helper prints after its answer
 * is no error to them, so it is none here.
 */
function firstJsonValue(text: string): unknown {
  const start = text.search(/\S/);
  if (text[start] !== '{') return JSON.parse(text);
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') depth++;
    else if ((c === '}' || c === ']') && --depth === 0) return JSON.parse(text.slice(start, i + 1));
  }
  return JSON.parse(text);
}

function firstLine(text: string): string {
  const line = text.split('\n').map((l) => l.trim()).find(Boolean) ?? '';
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}
