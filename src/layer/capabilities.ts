import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';

/**
 * File capabilities (`security.capability` xattrs) of a tree, keyed by absolute path bytes
 * (latin1 string). Node has no xattr API, and a native addon would be a dependency; instead one
 * `getfattr -R` (Debian package `attr`) reads the whole tree in one process, in C, and we map
 * its output. That costs about 0.2 s on a 53,000-file tree, against a process per file.
 */
export type CapabilityMap = Map<string, Buffer>;

const GETFATTR_ARGS = ['-R', '-h', '-d', '-m', '^security\\.capability$', '--absolute-names', '-e', 'base64'];

/** A scan started ahead of the build that will ask for it (prefetchCapabilities). */
interface Prefetched {
  result: Promise<CapabilityMap>;
  /** Warnings it gave, passed on to whoever takes it. */
  warnings: string[];
  /** Makes the scan hold the process open again, now that a build waits for it. */
  hold(): void;
}

const prefetched = new Map<string, Prefetched>();

/**
 * Starts the scan of the directory `root` (a real path, as the build will name it) now, ahead of
 * the build: the CLI calls it before the build's code has loaded, while one core is idle, and the
 * walk then finds the result ready instead of waiting for it. The scan holds nothing open: when
 * no build takes it (a layer-cache hit), getfattr finishes on its own.
 */
export function prefetchCapabilities(root: string): void {
  if (prefetched.has(root)) return;
  const warnings: string[] = [];
  let hold = () => {};
  const result = runGetfattr(root, (message) => warnings.push(message), (child) => {
    const pipe = child.stdout as Socket;
    child.unref();
    pipe.unref();
    hold = () => { child.ref(); pipe.ref(); };
  });
  prefetched.set(root, { result, warnings, hold: () => hold() });
}

/** Resolves to the map; when getfattr is missing, to an empty map after one warning. */
export function scanCapabilities(root: string, onWarning: (message: string) => void): Promise<CapabilityMap> {
  const early = prefetched.get(root);
  if (!early) return runGetfattr(root, onWarning);
  prefetched.delete(root);
  early.hold();
  return early.result.then((map) => {
    for (const message of early.warnings) onWarning(message);
    return map;
  });
}

function runGetfattr(root: string, onWarning: (message: string) => void, started?: (child: ChildProcessByStdio<null, Readable, null>) => void): Promise<CapabilityMap> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let child;
    try {
      child = spawn('getfattr', [...GETFATTR_ARGS, root], { stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      onWarning(missingMessage);
      resolve(new Map());
      return;
    }
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') onWarning(missingMessage);
      else onWarning(`getfattr failed (${err.message}): security.capability xattrs are not preserved`);
      resolve(new Map());
    });
    // getfattr exits non-zero when some file has no readable xattrs; what it printed still holds.
    child.once('close', () => resolve(parseGetfattr(Buffer.concat(chunks).toString('latin1'))));
    started?.(child);
  });
}

const missingMessage = 'getfattr not found (install the Debian package "attr"): security.capability xattrs are not preserved';

/** Parses `getfattr -d -e base64 --absolute-names` output: `# file: <quoted path>` then `key=0s<base64>` lines. */
function parseGetfattr(text: string): CapabilityMap {
  const map: CapabilityMap = new Map();
  let file: string | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('# file: ')) {
      file = unquote(line.slice(8));
    } else if (file !== undefined && line.startsWith('security.capability=')) {
      const value = line.slice('security.capability='.length);
      if (value.startsWith('0s')) map.set(file, Buffer.from(value.slice(2), 'base64'));
      else if (value.startsWith('0x')) map.set(file, Buffer.from(value.slice(2), 'hex'));
    }
  }
  return map;
}

/** getfattr writes bytes < 32, ≥ 127 and `\` as `\ooo`; the result is the raw bytes as latin1. */
function unquote(quoted: string): string {
  return quoted.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}
