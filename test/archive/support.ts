import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTool, run, runCli } from '../support/tools.js';

/**
 * An isolated podman store (vfs: no overlay mounts needed). The store lives in `dir`; the runroot
 * gets a short name of its own because podman refuses a runroot longer than 50 characters.
 */
export function podman(dir: string): { run: (args: string[]) => string; cleanup: () => void } {
  requireTool('podman');
  const root = join(dir, 'podman-root');
  mkdirSync(root, { recursive: true });
  const runroot = mkdtempSync(join(tmpdir(), 'ocp-'));
  return {
    run: (args) => run('podman', ['--storage-driver', 'vfs', '--root', root, '--runroot', runroot, ...args]),
    cleanup: () => rmSync(runroot, { recursive: true, force: true }),
  };
}

/** Extracts an archive with GNU tar into `dir` and returns the entry names in archive order. */
export function extract(archive: string, dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  run('tar', ['-xf', archive, '-C', dir]);
  return run('tar', ['-tf', archive]).split('\n').filter(Boolean);
}

export interface ManifestJsonEntry {
  Config: string;
  RepoTags: string[];
  Layers: string[];
}

export function readManifestJson(dir: string): ManifestJsonEntry[] {
  return JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as ManifestJsonEntry[];
}

/** Names in a directory that look like ocipush temp files (`.name.tmp-…`). */
export function tempFilesIn(dir: string): string[] {
  return readdirSync(dir).filter((n) => n.includes('.tmp-'));
}

export function layoutConfigFor(layout: string, tag: string): { manifest: { config: { digest: string }; layers: { digest: string }[] }; config: { rootfs: { diff_ids: string[] } }; manifestDigest: string } {
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
  const entry = index.manifests.find((d) => d.annotations?.['org.opencontainers.image.ref.name'] === tag);
  if (!entry) throw new Error(`no ${tag} in ${layout}`);
  const blob = (digest: string) => JSON.parse(readFileSync(join(layout, 'blobs', 'sha256', digest.slice('sha256:'.length)), 'utf8'));
  const manifest = blob(entry.digest);
  return { manifest, config: blob(manifest.config.digest), manifestDigest: entry.digest };
}

export function skopeo(args: string[]): string {
  requireTool('skopeo');
  return run('skopeo', args);
}

/**
 * An image ocipush built (a 256 KiB random file and a small one), loaded into a podman store of
 * its own and saved back by podman as `docker-archive` (the legacy docker save layout:
 * `<diff_id>.tar` layers, `<id>/layer.tar` links, `repositories`) and as `oci-archive`.
 */
export function podmanSavedImage(dir: string, name = 'localhost:5000/saved/app:1'): { dockerArchive: string; ociArchive: string; podman: ReturnType<typeof podman> } {
  const rootfs = join(dir, 'rootfs');
  mkdirSync(rootfs, { recursive: true });
  writeFileSync(join(rootfs, 'data.bin'), randomBytes(256 * 1024));
  writeFileSync(join(rootfs, 'hello.txt'), 'hello\n');
  const layout = join(dir, 'layout');
  const built = runCli(['build', rootfs, '--layout', layout, '--tag', 'app', '-q']);
  if (built.status !== 0) throw new Error(`ocipush build failed: ${built.stderr}`);
  const exported = join(dir, 'exported.tar');
  const wrote = runCli(['export', '--layout', layout, `app=${name}`, '-o', exported, '-q']);
  if (wrote.status !== 0) throw new Error(`ocipush export failed: ${wrote.stderr}`);
  const p = podman(join(dir, 'podman'));
  p.run(['load', '-q', '-i', exported]);
  const dockerArchive = join(dir, 'podman-docker.tar');
  const ociArchive = join(dir, 'podman-oci.tar');
  p.run(['save', '--format', 'docker-archive', '-o', dockerArchive, name]);
  p.run(['save', '--format', 'oci-archive', '-o', ociArchive, name]);
  return { dockerArchive, ociArchive, podman: p };
}
