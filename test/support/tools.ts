import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { removeOnExit } from './exit-cleanup.js';

/** The repository root (tests run from dist/test/…). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CLI = join(REPO_ROOT, 'bin', 'ocipush.js');

/**
 * The tools of the field the suite checks against. A missing tool fails the test that needs it:
 * CI installs every one, and a silent skip would hide a broken check.
 */
export function requireTool(name: string): string {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  const path = found.stdout.trim();
  if (found.status !== 0 || !path) {
    throw new Error(`required tool "${name}" is not installed (bash .ci/run installs it)`);
  }
  return path;
}

export async function tempDir(prefix = 'ocipush-test-'): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}

let missingRoot: string | undefined;

/**
 * A path that does not exist (`name` in an empty temp dir of this test process, removed at exit),
 * for what a command says about a missing file, layout or DOCKER_CONFIG. Not a fixed path such as
 * /nonexistent: every test on the machine shares that one, and on a root machine a command that
 * once created it broke the tests of other files running at the same time.
 */
export function missingPath(name: string): string {
  if (!missingRoot) {
    missingRoot = mkdtempSync(join(tmpdir(), 'ocipush-missing-'));
    removeOnExit(missingRoot);
  }
  return join(missingRoot, name);
}

/** `path` as a regular expression's source, to match a message that names it. */
export function escapeRegExp(path: string): string {
  return path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI (bin/ocipush.js) as a user would. */
export function runCli(args: string[], options: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {}): RunResult {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    input: options.input,
    env: { ...process.env, ...options.env },
    cwd: options.cwd,
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * The env that runs the CLI with its wall clock a minute ahead (support/clock-ahead-preload.ts):
 * the layer cache then stores the layer of a tree the test has just written, which it refuses for
 * two seconds after any change (git's racy rule), without the test sleeping through them.
 */
export function clockAheadEnv(): NodeJS.ProcessEnv {
  const preload = new URL('./clock-ahead-preload.js', import.meta.url).href;
  return { NODE_OPTIONS: [process.env.NODE_OPTIONS, `--import=${preload}`].filter(Boolean).join(' ') };
}

/** Runs a command and returns its stdout, throwing with its stderr when it fails. */
export function run(cmd: string, args: string[], options: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv } = {}): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', cwd: options.cwd, input: options.input, ...(options.env ? { env: options.env } : {}), maxBuffer: 256 * 1024 * 1024, stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.stderr || e.message}`);
  }
}

/**
 * An ECDSA P-256 key pair made by openssl, the independent implementation signatures are checked
 * with: `DIR/NAME.pem` (PKCS#8, as `openssl genpkey` writes it, which sign takes) and `DIR/NAME.pub`.
 */
export function opensslKeyPair(dir: string, name: string): { key: string; pub: string } {
  requireTool('openssl');
  const key = join(dir, `${name}.pem`);
  const pub = join(dir, `${name}.pub`);
  run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key]);
  run('openssl', ['pkey', '-in', key, '-pubout', '-out', pub]);
  return { key, pub };
}

/**
 * openssl's ECDSA signature (DER) over SHA-256 of `bytes` with the PEM private key `key`, as
 * cosign's signatures are made; the bytes and the signature go through files of their own in `dir`.
 */
export function opensslSignature(key: string, bytes: Buffer, dir: string): Buffer {
  const file = join(dir, `openssl-signed-${randomBytes(6).toString('hex')}`);
  writeFileSync(file, bytes);
  run('openssl', ['dgst', '-sha256', '-sign', key, '-out', `${file}.sig`, file]);
  return readFileSync(`${file}.sig`);
}

/**
 * `oci-image-tool validate` of one tagged image in a layout. Its 1.0.0-rc1 schema insists on at
 * least one layer, and takes the tag as `--ref name=TAG`.
 */
export function validateLayout(layoutDir: string, tag: string): void {
  requireTool('oci-image-tool');
  run('oci-image-tool', ['validate', '--type', 'image', '--ref', `name=${tag}`, layoutDir]);
}
