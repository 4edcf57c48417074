import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A real operating-system root filesystem, the tree users build most: Debian 12 minbase from
 * `debootstrap --variant=minbase bookworm DIR MIRROR` (about 206 MB, 6,800 entries, mostly
 * binaries). Made once (it needs root, debootstrap and the network; a minute or two) under the
 * cache directory and reused, like the generated fixture: built under a temp name and renamed
 * when whole, so an interrupted run never leaves half a tree.
 */
export const DEBIAN_SUITE = 'bookworm';

export interface DebianRootfs {
  path: string;
  mirror: string;
  reused: boolean;
}

export function ensureDebianRootfs(cacheDir: string, mirror: string | null, log: (line: string) => void): DebianRootfs {
  const path = join(cacheDir, `debian-minbase-${DEBIAN_SUITE}`);
  const stamp = `${path}.json`;
  if (existsSync(path) && existsSync(stamp)) {
    return { path, mirror: (JSON.parse(readFileSync(stamp, 'utf8')) as { mirror: string }).mirror, reused: true };
  }
  const chosen = mirror ?? aptMirror();
  if (!chosen) throw new Error('--debian: no Debian mirror found in /etc/apt/sources.list*; name one with --debian-mirror URL');
  const which = spawnSync('sh', ['-c', 'command -v debootstrap'], { encoding: 'utf8' });
  if (which.status !== 0) throw new Error('--debian needs debootstrap (apt-get install debootstrap), once, to make the tree');
  if (process.getuid?.() !== 0) throw new Error('--debian: debootstrap needs root to make the tree (once; later runs reuse it)');
  mkdirSync(cacheDir, { recursive: true });
  const partial = `${path}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  log(`making a Debian ${DEBIAN_SUITE} minbase rootfs in ${path} from ${chosen} (once; later runs reuse it)`);
  const started = Date.now();
  const r = spawnSync('debootstrap', ['--variant=minbase', DEBIAN_SUITE, partial, chosen], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) {
    rmSync(partial, { recursive: true, force: true });
    throw new Error(`debootstrap failed (${r.status ?? r.signal}):\n${(r.stderr || r.stdout).trim().split('\n').slice(-8).join('\n')}`);
  }
  // The tree is left as debootstrap makes it, .debs in /var/cache/apt/archives included (the
  // issue's 206 MB): what `debootstrap … && ocipush build DIR` would build.
  writeFileSync(stamp, `${JSON.stringify({ suite: DEBIAN_SUITE, variant: 'minbase', mirror: chosen, made: new Date().toISOString() }, null, 2)}\n`);
  rmSync(path, { recursive: true, force: true });
  renameSync(partial, path);
  log(`Debian rootfs ready in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return { path, mirror: chosen, reused: false };
}

/** The first Debian (not security) mirror the machine's apt sources name, one-line or deb822 format. */
export function aptMirror(): string | null {
  const files = ['/etc/apt/sources.list'];
  try {
    for (const name of readdirSync('/etc/apt/sources.list.d')) files.push(join('/etc/apt/sources.list.d', name));
  } catch { /* none */ }
  const uris: string[] = [];
  for (const file of files) {
    let text: string;
    try { text = readFileSync(file, 'utf8'); } catch { continue; }
    for (const m of text.matchAll(/^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)/gm)) uris.push(m[1]!);
    for (const m of text.matchAll(/^URIs:\s*(.+)$/gim)) uris.push(...m[1]!.trim().split(/\s+/));
  }
  return uris.find((u) => /^https?:\/\//.test(u) && !/security/.test(u)) ?? null;
}
