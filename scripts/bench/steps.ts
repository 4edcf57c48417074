import { statSync } from 'node:fs';
import { measure, type Measured } from './measure.js';

/** The timed operations, one function per tool, each as a user would type it. */

export interface OcipushCli {
  /** The Node that runs ocipush (--node; default the one running the bench). */
  node: string;
  /** bin/ocipush.js, run with that Node (what the `ocipush` shim runs). */
  cli: string;
  compression: string | null;
}

/** `extra`: more flags (`--sbom`). */
export function ocipushBuild(o: OcipushCli, rootfs: string, layout: string, tag: string, env: NodeJS.ProcessEnv, label: string, extra: string[] = []): Promise<Measured> {
  const args = [o.cli, 'build', rootfs, '--layout', layout, '--tag', tag, '--json', ...extra];
  if (o.compression) args.push('--compression', o.compression);
  return measure(o.node, args, { env, usage: true, label });
}

export function ocipushPush(o: OcipushCli, layout: string, tag: string, ref: string, label: string): Promise<Measured> {
  return measure(o.node, [o.cli, 'push', ref, '--layout', layout, '--tag', tag, '--json'], { usage: true, label });
}

/**
 * Registry to registry (`ocipush copy SRC DST`, issue 11). Only timed when `ocipush --help` lists
 * `copy`; if the verb's shape changes, this is the one place to follow it.
 */
export function ocipushCopy(o: OcipushCli, from: string, to: string, label: string): Promise<Measured> {
  return measure(o.node, [o.cli, 'copy', from, to, '--json'], { usage: true, label });
}

/** A whole repository, every tag (`ocipush copy --all-tags`), as skopeo sync mirrors it. */
export function ocipushMirror(o: OcipushCli, from: string, to: string, label: string): Promise<Measured> {
  return measure(o.node, [o.cli, 'copy', '--all-tags', from, to, '--json'], { usage: true, label });
}

/** `mutate SRC DST --label K=V`: a new manifest and config over the same layers (the mirror's tags). */
export function ocipushLabel(o: OcipushCli, from: string, to: string, label: string, value: string): Promise<Measured> {
  return measure(o.node, [o.cli, 'mutate', from, to, '--label', `bench.tag=${value}`, '-q'], { label });
}

/** The image's filesystem as one tar (`ocipush rootfs`), what umoci raw unpack makes as a directory. */
export function ocipushRootfs(o: OcipushCli, layout: string, tag: string, output: string, label: string): Promise<Measured> {
  return measure(o.node, [o.cli, 'rootfs', `oci:${layout}:${tag}`, '-o', output, '--json'], { usage: true, label });
}

export function umociRawUnpack(layout: string, tag: string, rootfs: string, label: string): Promise<Measured> {
  return measure('umoci', ['raw', 'unpack', '--image', `${layout}:${tag}`, rootfs], { usage: true, label });
}

export function ocipushVersion(o: OcipushCli): Promise<Measured> {
  return measure(o.node, [o.cli, '--version'], { label: 'ocipush --version' });
}

export function nodeBaseline(node: string): Promise<Measured> {
  return measure(node, ['-e', ''], { label: 'node -e ""' });
}

export interface UmociBuild {
  /** init + new + insert: the whole job of making a fresh layout from the tree. */
  seconds: number;
  insertSeconds: number;
  maxRssBytes: number | null;
  cpuSeconds: number | null;
}

/** A fresh layout with one image whose single layer is the tree, the umoci way. */
export async function umociBuild(rootfs: string, layout: string, tag: string, label: string): Promise<UmociBuild> {
  const init = await measure('umoci', ['init', '--layout', layout], { usage: true, label: `${label} (umoci init)` });
  const created = await measure('umoci', ['new', '--image', `${layout}:${tag}`], { usage: true, label: `${label} (umoci new)` });
  const insert = await measure('umoci', ['insert', '--image', `${layout}:${tag}`, rootfs, '/'], { usage: true, label: `${label} (umoci insert)` });
  const steps = [init, created, insert];
  return {
    seconds: steps.reduce((sum, m) => sum + m.seconds, 0),
    insertSeconds: insert.seconds,
    maxRssBytes: insert.maxRssBytes,
    cpuSeconds: steps.every((m) => m.cpuSeconds !== null) ? Math.round(steps.reduce((sum, m) => sum + m.cpuSeconds!, 0) * 100) / 100 : null,
  };
}

export function skopeoPush(layout: string, tag: string, ref: string, label: string): Promise<Measured> {
  return measure('skopeo', ['copy', '--dest-tls-verify=false', `oci:${layout}:${tag}`, `docker://${ref}`], { usage: true, label });
}

export function skopeoCopy(from: string, to: string, label: string): Promise<Measured> {
  return measure('skopeo', ['copy', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${from}`, `docker://${to}`], { usage: true, label });
}

/** `skopeo sync` of a repository into `toPrefix`: it lands at `toPrefix/<the source repository's last name>`. */
export function skopeoSync(from: string, toPrefix: string, label: string): Promise<Measured> {
  return measure('skopeo', ['sync', '--src', 'docker', '--dest', 'docker', '--src-tls-verify=false', '--dest-tls-verify=false', from, toPrefix], { usage: true, label });
}

export type TarAnchor = 'gzip' | 'pigz' | 'sha256sum';

export const TAR_ANCHOR_NAMES: Record<TarAnchor, string> = {
  gzip: 'tar -c | gzip -6',
  pigz: 'tar -c | pigz -6',
  sha256sum: 'tar -c | sha256sum',
};

/** The shell pipelines the issue quotes as anchors; returns the time and the compressed size. */
export async function tarAnchor(kind: TarAnchor, rootfs: string, outFile: string): Promise<{ seconds: number; cpuSeconds: number | null; bytes: number | null }> {
  const sink = kind === 'sha256sum' ? 'sha256sum >/dev/null' : `${kind} -6 >"$2"`;
  // GNU time counts every process bash waited for: the CPU time is the whole pipeline's.
  const r = await measure('bash', ['-c', `set -o pipefail; tar -C "$1" -cf - . | ${sink}`, 'bash', rootfs, outFile], { usage: true, label: TAR_ANCHOR_NAMES[kind] });
  return { seconds: r.seconds, cpuSeconds: r.cpuSeconds, bytes: kind === 'sha256sum' ? null : statSync(outFile).size };
}

/** Reads the whole tree once so every tool, first or not, finds it in the page cache. */
export async function warmPageCache(rootfs: string): Promise<void> {
  // GNU tar skips reading file data when writing to /dev/null itself; a pipe makes it read.
  await measure('bash', ['-c', 'set -o pipefail; tar -C "$1" -cf - . | cat >/dev/null', 'bash', rootfs], { label: 'page-cache warm-up' });
}

const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');

/** The digest the registry serves for repo:tag: proof that a push really landed. */
export async function pushedDigest(host: string, repo: string, tag: string): Promise<string> {
  const res = await fetch(`http://${host}/v2/${repo}/manifests/${tag}`, { method: 'HEAD', headers: { accept: MANIFEST_ACCEPT } });
  const digest = res.headers.get('docker-content-digest');
  if (res.status !== 200 || !digest) throw new Error(`after the push, the registry has no manifest for ${repo}:${tag} (HTTP ${res.status})`);
  return digest;
}
