import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { record } from './tar-header.js';

/**
 * The extended attributes of a tree, keyed by absolute path bytes (latin1 string), each value the
 * entry's `SCHILY.xattr.<name>=<value>` pax records, encoded and sorted by name: what `umoci
 * insert` stores. Node has no xattr API, and a native addon would be a dependency; instead one
 * `getfattr -R` (Debian package `attr`) reads the whole tree in one process, in C, and we map
 * its output. That costs about 0.2 s on a 53,000-file tree, against a process per file; a tree
 * without xattrs prints nothing, so what is asked for costs nothing more than a capability alone.
 *
 * Carried, as umoci does: `user.*`, `trusted.*` (not `trusted.overlay.*`, which overlayfs sets
 * on its own upper directories), `security.*` but `security.selinux` (the host's label), and the
 * POSIX ACLs `system.posix_acl_access` / `system.posix_acl_default` (their binary form, as the
 * kernel gives it). Empty values are left out: a pax record with no value unsets its key.
 */
export type XattrMap = Map<string, Buffer>;

/**
 * getfattr's `-m` is a POSIX extended regular expression, without look-ahead: every security.*
 * name but `security.selinux` is spelled out as "differs from it at some byte, or is a proper
 * prefix of it, or is longer". On an SELinux host every file has a label, and matching it would
 * print a line per file of the tree.
 */
const NOT_SELINUX = 'security\\.([^s]|s[^e]|se[^l]|sel[^i]|seli[^n]|selin[^u]|selinu[^x]|selinux.|(s|se|sel|seli|selin|selinu)$)';
export const XATTR_PATTERN = `^(user\\.|trusted\\.|${NOT_SELINUX}|system\\.posix_acl_(access|default)$)`;

const GETFATTR_ARGS = ['-R', '-h', '-d', '-m', XATTR_PATTERN, '--absolute-names', '-e', 'base64'];

/** Names the pattern matches that are still not carried. */
function carried(name: string): boolean {
  return !name.startsWith('trusted.overlay.');
}

/** A scan started ahead of the build that will ask for it (prefetchXattrs). */
interface Prefetched {
  result: Promise<XattrMap>;
  /** Warnings it gave, passed on to whoever takes it. */
  warnings: string[];
  /** Makes the scan hold the process open again, now that a build waits for it. */
  hold(): void;
  /** When it started (Date.now): the xattrs it reads may be older than any later stat of their file. */
  startedMs: number;
}

const prefetched = new Map<string, Prefetched>();

/**
 * Starts the scan of the directory `root` (a real path, as the build will name it) now, ahead of
 * the build: the CLI calls it before the build's code has loaded, while one core is idle, and the
 * walk then finds the result ready instead of waiting for it. The scan holds nothing open: when
 * no build takes it (a layer-cache hit), getfattr finishes on its own.
 */
export function prefetchXattrs(root: string): void {
  if (prefetched.has(root)) return;
  const warnings: string[] = [];
  let hold = () => {};
  const result = runGetfattr(root, (message) => warnings.push(message), (child) => {
    const pipe = child.stdout as Socket;
    child.unref();
    pipe.unref();
    hold = () => { child.ref(); pipe.ref(); };
  });
  prefetched.set(root, { result, warnings, hold: () => hold(), startedMs: Date.now() });
}

/**
 * When the scan of `root` that a build has yet to take was started (prefetchXattrs), else
 * undefined. The layer cache's key of that build must treat every change since then as unsure:
 * the scan may have read a file's xattrs before a setfattr the walk's later stat then sees.
 */
export function prefetchStartedMs(root: string): number | undefined {
  return prefetched.get(root)?.startedMs;
}

/** Resolves to the map; when getfattr is missing, to an empty map after one warning. */
export function scanXattrs(root: string, onWarning: (message: string) => void): Promise<XattrMap> {
  const early = prefetched.get(root);
  if (!early) return runGetfattr(root, onWarning);
  prefetched.delete(root);
  early.hold();
  return early.result.then((map) => {
    for (const message of early.warnings) onWarning(message);
    return map;
  });
}

function runGetfattr(root: string, onWarning: (message: string) => void, started?: (child: ChildProcessByStdio<null, Readable, null>) => void): Promise<XattrMap> {
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
      else onWarning(`getfattr failed (${err.message}): extended attributes (xattrs, ACLs, capabilities) are not preserved`);
      resolve(new Map());
    });
    // getfattr exits non-zero when some file has no readable xattrs; what it printed still holds.
    child.once('close', () => resolve(parseGetfattr(Buffer.concat(chunks).toString('latin1'), onWarning)));
    started?.(child);
  });
}

const missingMessage = 'getfattr not found (install the Debian package "attr"): extended attributes (xattrs, ACLs, capabilities) are not preserved';

/**
 * Parses `getfattr -d -e base64 --absolute-names` output: `# file: <quoted path>`, then one
 * `name=0s<base64>` line per attribute (`0x<hex>` accepted too), then an empty line.
 */
function parseGetfattr(text: string, onWarning: (message: string) => void): XattrMap {
  const map: XattrMap = new Map();
  let file: string | undefined;
  let found: [string, Buffer][] = [];
  const flush = () => {
    if (file !== undefined && found.length > 0) {
      found.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      map.set(file, Buffer.concat(found.map(([name, value]) => record(Buffer.from(`SCHILY.xattr.${name}`, 'latin1'), value))));
    }
    found = [];
  };
  for (const line of text.split('\n')) {
    if (line.startsWith('# file: ')) {
      flush();
      file = unquote(line.slice(8));
      continue;
    }
    const eq = line.indexOf('=');
    if (file === undefined || eq <= 0) continue;
    // Names are printed quoted as paths are; a name holds no '=' (getfattr would quote it).
    const name = unquote(line.slice(0, eq));
    const value = line.slice(eq + 1);
    const bytes = value.startsWith('0s') ? Buffer.from(value.slice(2), 'base64')
      : value.startsWith('0x') ? Buffer.from(value.slice(2), 'hex') : undefined;
    if (!bytes || bytes.length === 0 || !carried(name)) continue;
    // A pax record's key ends at its first '=': "user.a=b" would come back as "user.a".
    if (name.includes('=')) {
      onWarning(`${Buffer.from(file, 'latin1').toString()}: xattr "${Buffer.from(name, 'latin1').toString()}" left out (a tar xattr name cannot hold "=")`);
      continue;
    }
    found.push([name, bytes]);
  }
  flush();
  return map;
}

/** getfattr writes bytes < 32, ≥ 127, `=` and `\` as `\ooo`; the result is the raw bytes as latin1. */
function unquote(quoted: string): string {
  return quoted.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}
