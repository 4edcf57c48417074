import { spawnSync } from 'node:child_process';
import { OciLayout } from '../../src/content/layout.js';
import { MAX_MANIFEST_BYTES, readSmall } from '../../src/content/verify.js';
import { isIndex, parseManifest } from '../../src/oci/manifest.js';

/** Whether `name` is on PATH. */
export function hasTool(name: string): boolean {
  const found = spawnSync('sh', ['-c', `command -v "$1"`, 'sh', name], { encoding: 'utf8' });
  return found.status === 0 && found.stdout.trim() !== '';
}

/** The first line a `--version` style command prints, or null when the tool is missing. */
export function toolVersion(cmd: string, args: string[] = ['--version']): string | null {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error || r.status !== 0) return null;
  return (r.stdout || r.stderr).trim().split('\n')[0] ?? null;
}

/** The commands `ocipush --help` lists, e.g. {'build', 'push'}. */
export function ocipushCommands(cli: string): Set<string> {
  const r = spawnSync(process.execPath, [cli, '--help'], { encoding: 'utf8' });
  const commands = new Set<string>();
  for (const m of (r.stdout ?? '').matchAll(/^\s+ocipush (\w[\w-]*)/gm)) commands.add(m[1]!);
  return commands;
}

export interface ImageInfo {
  manifestDigest: string;
  layers: Array<{ digest: string; size: number; mediaType: string }>;
  /** Sum of the layers' compressed sizes. */
  layerBytes: number;
}

/** The layers of the image tagged `tag` in an OCI layout, whichever tool wrote it. */
export async function imageInfo(layoutDir: string, tag: string): Promise<ImageInfo> {
  const layout = await OciLayout.open(layoutDir);
  const desc = await layout.resolve(tag);
  const bytes = await readSmall(await layout.fetch(desc), MAX_MANIFEST_BYTES, `manifest ${desc.digest}`);
  const manifest = parseManifest(bytes, `${layoutDir} ${tag}`, desc.mediaType);
  if (isIndex(manifest)) throw new Error(`${layoutDir}: "${tag}" is an index; the bench expects a single-platform image`);
  const layers = manifest.layers.map((l) => ({ digest: l.digest, size: l.size, mediaType: l.mediaType }));
  return { manifestDigest: desc.digest, layers, layerBytes: layers.reduce((sum, l) => sum + l.size, 0) };
}
