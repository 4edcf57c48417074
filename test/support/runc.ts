import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { requireTool, type RunResult } from './tools.js';

/**
 * Runs an image of an OCI layout the way a container engine would, with the real tools: `umoci
 * unpack` makes an OCI runtime bundle (rootfs + config.json from the image config), `runc run`
 * starts it. Needs root (umoci unpack keeps file owners; runc creates namespaces).
 *
 * Quirks, found on Debian 12 (runc 1.1.5, umoci 0.4.7) inside a VM with cgroup v1 and no systemd:
 * - `process.terminal` is set to false: umoci writes `true`, and runc then wants a console socket.
 * - runc keeps its state under a private `--root`, not /run/runc, so parallel tests and a crashed
 *   run never collide with each other or with the host's containers.
 * - The network namespace stays (runc gives it a loopback only); no pivot_root or cgroup flag was
 *   needed here. If a machine refuses pivot_root (a ramfs root), RUNC_NO_PIVOT=1 adds --no-pivot.
 * - umoci cannot unpack an image index and reads `layout:tag` by splitting at the first colon, so
 *   the image is resolved here (index → linux/amd64 manifest) and unpacked from a one-entry view
 *   of the layout (its own index.json, the blobs directory symlinked), whatever the tag looks like.
 */

export interface RunImageOptions {
  /** The whole command line, replacing the image's Entrypoint + Cmd. */
  args?: string[];
  /** Variables added to (or replacing those of) the image's Env. */
  env?: Record<string, string>;
  /** Killed after this long (default 60 s): a hung container must not hang the suite. */
  timeoutMs?: number;
  /** Where the bundle and runc state go (a temp dir inside it, removed after; default the OS temp dir). */
  tmpRoot?: string;
  /** Platform to take from an image index (default linux/amd64). */
  platform?: { os: string; architecture: string };
  /** Share the host's network namespace (to reach a server on the host's loopback) instead of a loopback of its own. */
  hostNetwork?: boolean;
  /** Host directories bound into the container, read-write. */
  mounts?: { source: string; destination: string }[];
}

interface Descriptor {
  mediaType?: string;
  digest: string;
  size: number;
  platform?: { os: string; architecture: string };
  annotations?: Record<string, string>;
}

const INDEX_TYPES = new Set(['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json']);

export function runImage(layoutDir: string, tag: string, options: RunImageOptions = {}): RunResult {
  requireTool('umoci');
  requireTool('runc');
  const layout = resolve(layoutDir);
  const work = mkdtempSync(join(options.tmpRoot ?? tmpdir(), 'ocipush-runc-'));
  const id = `ocipush-test-${process.pid}-${randomBytes(4).toString('hex')}`;
  const state = join(work, 'state');
  try {
    const manifest = findManifest(layout, tag, options.platform ?? { os: 'linux', architecture: 'amd64' });
    const view = join(work, 'layout');
    mkdirSync(view);
    writeFileSync(join(view, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    writeFileSync(join(view, 'index.json'), JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.size, annotations: { 'org.opencontainers.image.ref.name': 'image' } }],
    }));
    symlinkSync(join(layout, 'blobs'), join(view, 'blobs'));

    const bundle = join(work, 'bundle');
    check(spawnSync('umoci', ['unpack', '--image', `${view}:image`, bundle], { encoding: 'utf8' }), 'umoci unpack');
    editConfig(join(bundle, 'config.json'), options);

    const runcArgs = ['--root', state, 'run', ...(process.env.RUNC_NO_PIVOT ? ['--no-pivot'] : []), '--bundle', bundle, id];
    const r = spawnSync('runc', runcArgs, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 60_000,
      killSignal: 'SIGKILL',
      maxBuffer: 64 * 1024 * 1024,
    });
    if (r.error && (r.error as NodeJS.ErrnoException).code !== 'ETIMEDOUT') throw r.error;
    return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  } finally {
    // runc run deletes the container when its process exits; after a timeout or crash it may not.
    spawnSync('runc', ['--root', state, 'kill', id, 'KILL'], { stdio: 'ignore' });
    spawnSync('runc', ['--root', state, 'delete', '--force', id], { stdio: 'ignore' });
    rmSync(work, { recursive: true, force: true });
  }
}

function findManifest(layout: string, tag: string, platform: { os: string; architecture: string }): Descriptor {
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: Descriptor[] };
  let desc = index.manifests.find((d) => d.annotations?.['org.opencontainers.image.ref.name'] === tag);
  if (!desc) {
    const names = index.manifests.map((d) => d.annotations?.['org.opencontainers.image.ref.name'] ?? d.digest).join(', ');
    throw new Error(`runImage: no image tagged "${tag}" in ${layout} (it has: ${names})`);
  }
  for (let depth = 0; desc.mediaType && INDEX_TYPES.has(desc.mediaType); depth++) {
    if (depth > 4) throw new Error(`runImage: "${tag}" nests image indexes too deep`);
    const [alg, hex] = desc.digest.split(':') as [string, string];
    const child = JSON.parse(readFileSync(join(layout, 'blobs', alg, hex), 'utf8')) as { manifests: Descriptor[] };
    const match = child.manifests.find((d) => d.platform?.os === platform.os && d.platform?.architecture === platform.architecture);
    if (!match) throw new Error(`runImage: "${tag}" has no ${platform.os}/${platform.architecture} image`);
    desc = match;
  }
  return desc;
}

interface RuntimeConfig {
  process: { terminal?: boolean; args?: string[]; env?: string[] };
  mounts?: { destination: string; type: string; source: string; options: string[] }[];
  linux?: { namespaces?: { type: string }[] };
}

function editConfig(path: string, options: RunImageOptions): void {
  const config = JSON.parse(readFileSync(path, 'utf8')) as RuntimeConfig;
  config.process.terminal = false;
  if (options.args) config.process.args = options.args;
  if (options.env) {
    const env = (config.process.env ?? []).filter((e) => !Object.hasOwn(options.env!, e.slice(0, e.indexOf('='))));
    for (const [k, v] of Object.entries(options.env)) env.push(`${k}=${v}`);
    config.process.env = env;
  }
  if (options.hostNetwork && config.linux?.namespaces) {
    config.linux.namespaces = config.linux.namespaces.filter((ns) => ns.type !== 'network');
  }
  for (const m of options.mounts ?? []) {
    (config.mounts ??= []).push({ destination: m.destination, type: 'bind', source: resolve(m.source), options: ['rbind', 'rw'] });
  }
  if (!config.process.args || config.process.args.length === 0) {
    throw new Error('runImage: the image has no Entrypoint or Cmd and no args were given');
  }
  writeFileSync(path, JSON.stringify(config, null, 2));
}

function check(r: ReturnType<typeof spawnSync>, what: string): void {
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status}): ${String(r.stderr).trim()}`);
}
