import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { requireTool, run, runCli, type RunResult } from '../support/tools.js';

/** Helpers for the Dockerfile builder tests: contexts on disk, builds through the CLI, images read back. */

/**
 * A context from a description: `name: 'text'` a file, `name/` a directory, `{ link }` a
 * symlink, `{ text, mode }` a file with a mode, `{ dir: true, mode }` a directory with a mode.
 */
export type TreeSpec = Record<string, string | { text?: string; mode?: number; link?: string; dir?: boolean }>;

export function writeTree(root: string, files: TreeSpec): void {
  mkdirSync(root, { recursive: true });
  const modes: [string, number][] = [];
  for (const [name, spec] of Object.entries(files)) {
    const path = join(root, name);
    if (name.endsWith('/') || (typeof spec === 'object' && spec.dir)) {
      mkdirSync(path, { recursive: true });
      if (typeof spec === 'object' && spec.mode !== undefined) modes.push([path, spec.mode]);
      continue;
    }
    mkdirSync(dirname(path), { recursive: true });
    if (typeof spec === 'object' && spec.link !== undefined) {
      symlinkSync(spec.link, path);
      continue;
    }
    writeFileSync(path, typeof spec === 'string' ? spec : spec.text ?? '');
    if (typeof spec === 'object' && spec.mode !== undefined) modes.push([path, spec.mode]);
  }
  // Directory modes last: a 0500 directory would refuse the files written into it.
  for (const [path, mode] of modes.reverse()) chmodSync(path, mode);
}

export interface BuildJson {
  digest: string;
  tag: string;
  stage: string;
  layers: { digest: string; diffId: string; mediaType: string; createdBy: string; source: string }[];
  config: { digest: string };
  base?: { reference: string; digest: string; layers: number };
}

/** `ocipush build -f DOCKERFILE CONTEXT --layout LAYOUT --tag TAG --json …` (`env` added to the process's); the JSON result. */
export function build(context: string, layout: string, args: string[] = [], dockerfile = join(context, 'Dockerfile'), env?: NodeJS.ProcessEnv): BuildJson {
  const r = runCli(['build', '-f', dockerfile, context, '--layout', layout, '--json', ...args], { env });
  assert.equal(r.status, 0, `build failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as BuildJson;
}

/** The CLI run in the context directory (`-f Dockerfile .`), so messages name `Dockerfile` as a user sees it. */
export function buildCli(context: string, layout: string, args: string[] = [], dockerfile = 'Dockerfile'): RunResult {
  return runCli(['build', '-f', dockerfile, '.', '--layout', layout, ...args], { cwd: context });
}

export function blobPath(layout: string, digest: string): string {
  return join(layout, 'blobs', 'sha256', digest.replace(/^sha256:/, ''));
}

export interface ImageJson {
  manifest: { mediaType: string; layers: { digest: string; mediaType: string; size: number }[]; annotations?: Record<string, string>; config: { digest: string } };
  config: {
    created: string;
    author?: string;
    architecture: string;
    os: string;
    config: Record<string, unknown>;
    rootfs: { diff_ids: string[] };
    history: { created?: string; created_by?: string; comment?: string; empty_layer?: boolean }[];
  };
}

export function readImage(layout: string, tag: string): ImageJson {
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
  const entry = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
  assert.ok(entry, `tag ${tag} in ${layout}`);
  const manifest = JSON.parse(readFileSync(blobPath(layout, entry.digest), 'utf8')) as ImageJson['manifest'];
  const config = JSON.parse(readFileSync(blobPath(layout, manifest.config.digest), 'utf8')) as ImageJson['config'];
  return { manifest, config };
}

/** The entries of a gzip layer, as `tar -tv` shows them: `mode uid/gid name[ -> target]`. */
export function layerListing(layout: string, digest: string): string[] {
  const out = run('tar', ['--numeric-owner', '-tvzf', blobPath(layout, digest)]).trim();
  if (out === '') return [];
  return out.split('\n').map((line) => {
    const f = line.split(/\s+/);
    return [f[0], f[1], ...f.slice(5)].join(' ');
  });
}

/**
 * `umoci unpack` of an image, and its root filesystem as `path → 'mode uid:gid [size|-> target]'`
 * (what a container would see).
 */
export function unpackedTree(layout: string, tag: string, bundle: string): Record<string, string> {
  requireTool('umoci');
  run('umoci', ['unpack', '--image', `${layout}:${tag}`, bundle]);
  return treeOf(join(bundle, 'rootfs'));
}

export function treeOf(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  // Names read as bytes: one that is not UTF-8 shows its other bytes as \xNN, not as U+FFFD.
  const shown = (name: Buffer): string => (isUtf8(name) ? name.toString('utf8') : [...name].map((b) => (b < 0x80 ? String.fromCharCode(b) : `\\x${b.toString(16)}`)).join(''));
  const walk = (dir: Buffer, prefix: string): void => {
    const names = readdirSync(dir, { encoding: 'buffer' }).map((name) => ({ name, text: shown(name) }));
    for (const { name, text } of names.sort((a, b) => (a.text < b.text ? -1 : a.text > b.text ? 1 : 0))) {
      const path = Buffer.concat([dir, Buffer.from('/'), name]);
      const rel = `${prefix}/${text}`;
      const st = lstatSync(path);
      const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
      if (st.isSymbolicLink()) out[rel] = `link ${st.uid}:${st.gid} -> ${shown(readlinkSync(path, { encoding: 'buffer' }))}`;
      else if (st.isDirectory()) {
        out[rel + '/'] = `dir ${mode} ${st.uid}:${st.gid}`;
        walk(path, rel);
      } else out[rel] = `file ${mode} ${st.uid}:${st.gid} ${readFileSync(path, 'utf8').slice(0, 40)}`;
    }
  };
  walk(Buffer.from(root), '');
  return out;
}

/** buildah (its vfs store in `work`): builds a Dockerfile with no RUN and pushes it to an OCI layout. */
export function buildahBuild(work: string, context: string, layout: string, tag: string, args: string[] = []): void {
  const buildah = requireTool('buildah');
  const store = ['--storage-driver', 'vfs', '--root', join(work, 'buildah-root'), '--runroot', join(work, 'buildah-runroot')];
  const name = `localhost/ocipush-df-${tag}`;
  run(buildah, [...store, 'build', '--isolation', 'chroot', '-q', '-t', name, ...args, context]);
  run(buildah, [...store, 'push', name, `oci:${layout}:${tag}`]);
}

/**
 * The image's root filesystem as a runtime that unpacks each layer into a directory of its own
 * and stacks them with overlayfs sees it (podman's overlay store, as Docker's overlay2 and CRI-O
 * do): `path → 'mode uid:gid'` for `paths`. A directory a layer passes through without an entry
 * is made there by the unpacker (0755 root) and hides the one below it.
 */
export function overlayModes(work: string, layout: string, tag: string, paths: string[]): Record<string, string> {
  const podman = requireTool('podman');
  const skopeo = requireTool('skopeo');
  mkdirSync(work, { recursive: true });
  // podman refuses a runroot longer than 50 characters.
  const runroot = mkdtempSync(join(tmpdir(), 'ocp-'));
  const store = `overlay@${join(work, 'root')}+${runroot}`;
  const podmanArgs = ['--storage-driver', 'overlay', '--root', join(work, 'root'), '--runroot', runroot];
  const name = `localhost/ocipush-overlay/${tag.toLowerCase()}:1`;
  run(skopeo, ['copy', '-q', `oci:${layout}:${tag}`, `containers-storage:[${store}]${name}`]);
  const mounted = run(podman, [...podmanArgs, 'image', 'mount', name]).trim();
  try {
    const out: Record<string, string> = {};
    for (const path of paths) {
      const st = lstatSync(join(mounted, path));
      out[path] = `${(st.mode & 0o7777).toString(8).padStart(4, '0')} ${st.uid}:${st.gid}`;
    }
    return out;
  } finally {
    run(podman, [...podmanArgs, 'image', 'unmount', '--all']);
    rmSync(runroot, { recursive: true, force: true });
  }
}
