import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTool, run } from '../support/tools.js';

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
