import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OciLayout } from '../../src/content/layout.js';
import { sha256 } from '../../src/oci/digest.js';
import type { Descriptor } from '../../src/oci/descriptor.js';
import { MediaType } from '../../src/oci/media-types.js';
import type { AccessEntry } from '../support/registry.js';
import { requireTool, run } from '../support/tools.js';

export const MiB = 1024 * 1024;

export interface UmociImage {
  layout: string;
  tag: string;
  /** The manifest descriptor as index.json has it. */
  manifest: Descriptor;
  /** Digests of the layers (compressed blobs) and of the config. */
  layers: string[];
  config: string;
}

/**
 * An image made by umoci (an independent OCI implementation), with one layer per entry of
 * `layerSizes`, each a file of random (incompressible) bytes, so a layer blob is about that size.
 */
export function umociImage(dir: string, tag: string, layerSizes: number[], layoutDir = join(dir, 'layout')): UmociImage {
  requireTool('umoci');
  try { readFileSync(join(layoutDir, 'oci-layout')); } catch { run('umoci', ['init', '--layout', layoutDir]); }
  run('umoci', ['new', '--image', `${layoutDir}:${tag}`]);
  layerSizes.forEach((size, i) => {
    const root = join(dir, `rootfs-${tag}-${i}`);
    mkdirSync(join(root, 'data'), { recursive: true });
    writeFileSync(join(root, 'data', `layer-${i}.bin`), randomBytes(size));
    run('umoci', ['insert', '--image', `${layoutDir}:${tag}`, root, '/']);
  });
  return describeUmociImage(layoutDir, tag);
}

export function describeUmociImage(layoutDir: string, tag: string): UmociImage {
  const index = JSON.parse(readFileSync(join(layoutDir, 'index.json'), 'utf8')) as { manifests: Descriptor[] };
  const manifest = index.manifests.find((d) => d.annotations?.['org.opencontainers.image.ref.name'] === tag);
  if (!manifest) throw new Error(`no ${tag} in ${layoutDir}`);
  const body = JSON.parse(readFileSync(blobPath(layoutDir, manifest.digest), 'utf8')) as { config: Descriptor; layers: Descriptor[] };
  return { layout: layoutDir, tag, manifest, layers: body.layers.map((l) => l.digest), config: body.config.digest };
}

export function blobPath(layoutDir: string, digest: string): string {
  return join(layoutDir, 'blobs', ...digest.split(':'));
}

export interface MultiPlatformImage {
  index: Descriptor;
  manifests: Descriptor[];
  /** The layer both platforms share. */
  sharedLayer: string;
  /** Every blob (layers and configs), each once. */
  blobs: string[];
}

/**
 * A two-platform index (linux/amd64, linux/arm64) whose manifests share one layer, written with
 * the layout store. The registry does not unpack layers, so random bytes stand in for tarballs.
 */
export async function multiPlatformImage(layoutDir: string, tag: string): Promise<MultiPlatformImage> {
  const layout = await OciLayout.open(layoutDir, { create: true });
  const shared = await layout.putBytes(MediaType.OciLayerGzip, randomBytes(300_000));
  const manifests: Descriptor[] = [];
  const blobs = [shared.digest];
  for (const architecture of ['amd64', 'arm64']) {
    const own = await layout.putBytes(MediaType.OciLayerGzip, randomBytes(200_000));
    const config = await layout.putJson(MediaType.OciConfig, {
      architecture, os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256(randomBytes(8)), sha256(randomBytes(8))] },
    });
    blobs.push(own.digest, config.digest);
    const manifest = await layout.putJson(MediaType.OciManifest, {
      schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: [shared, own],
    }, { platform: { os: 'linux', architecture } });
    manifests.push(manifest);
  }
  const index = await layout.putJson(MediaType.OciIndex, { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests });
  await layout.tag(index, tag);
  return { index, manifests, sharedLayer: shared.digest, blobs };
}

/**
 * A manifest shaped as cosign's signature image (one simple-signing layer; its payload not a real
 * signature), stored in `layout` untagged: for tests where a `sha256-<hex>.sig` tag only has to be
 * carried along, not verified.
 */
export async function cosignShapedSignature(layout: OciLayout): Promise<Descriptor> {
  const payload = await layout.putBytes('application/vnd.dev.cosign.simplesigning.v1+json', Buffer.from('{"critical":{}}'));
  const config = await layout.putBytes(MediaType.OciConfig, Buffer.from('{"architecture":"","os":"","rootfs":{"type":"layers","diff_ids":[]}}'));
  return layout.putJson(MediaType.OciManifest, { schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: [payload] });
}

/** Access-log entries of blob data being sent: upload PATCHes and PUTs (not manifest PUTs). */
export function blobWrites(log: AccessEntry[]): AccessEntry[] {
  return log.filter((e) => (e.method === 'PATCH' || e.method === 'PUT') && e.path.includes('/blobs/uploads/'));
}

export function uploadStarts(log: AccessEntry[]): AccessEntry[] {
  return log.filter((e) => e.method === 'POST' && e.path.endsWith('/blobs/uploads/'));
}

/** The digest a closing `PUT …?digest=` names. */
export function putDigest(entry: AccessEntry): string | undefined {
  const q = entry.uri.indexOf('?');
  if (q < 0) return undefined;
  return new URLSearchParams(entry.uri.slice(q + 1)).get('digest') ?? undefined;
}

/** `skopeo inspect --raw` of an image in a plain-HTTP registry: the manifest bytes and their digest. */
export function skopeoRawManifest(reference: string, extra: string[] = []): { bytes: Buffer; digest: string } {
  requireTool('skopeo');
  const text = run('skopeo', ['inspect', '--raw', '--tls-verify=false', ...extra, `docker://${reference}`]);
  const bytes = Buffer.from(text, 'utf8');
  return { bytes, digest: sha256(bytes) };
}

/**
 * How skopeo reaches a registry: over plain HTTP, unless `certDir` holds the CA its TLS is checked
 * against; as `creds` (USER:PASSWORD); with `env` added to this process's (a DOCKER_CONFIG, a
 * credential helper on PATH).
 */
export interface SkopeoAccess {
  certDir?: string;
  creds?: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * `skopeo list-tags` of `repository`, sorted: `HOST/REPO` in a registry, or a reference that names
 * its transport (`docker-archive:FILE`), whose tags skopeo lists as the archive's RepoTags.
 */
export function skopeoTags(repository: string, access: SkopeoAccess = {}): string[] {
  requireTool('skopeo');
  return sortedTags(run('skopeo', listTagsArgs(repository, access), { env: skopeoEnv(access) }));
}

/** skopeoTags without blocking this process (a token issuer or relay in it must keep answering skopeo). */
export async function skopeoTagsAsync(repository: string, access: SkopeoAccess = {}): Promise<string[]> {
  requireTool('skopeo');
  const { stdout } = await promisify(execFile)('skopeo', listTagsArgs(repository, access), { encoding: 'utf8', env: skopeoEnv(access) });
  return sortedTags(stdout);
}

function listTagsArgs(repository: string, access: SkopeoAccess): string[] {
  if (/^(docker-archive|oci-archive|oci|dir):/.test(repository)) return ['list-tags', repository];
  const tls = access.certDir ? ['--cert-dir', access.certDir] : ['--tls-verify=false'];
  return ['list-tags', ...tls, ...(access.creds ? ['--creds', access.creds] : []), `docker://${repository}`];
}

const skopeoEnv = (access: SkopeoAccess): NodeJS.ProcessEnv => ({ ...process.env, ...access.env });
const sortedTags = (listed: string): string[] => (JSON.parse(listed) as { Tags: string[] }).Tags.sort();

/** skopeoDigest without blocking this process (a token issuer in it must keep answering skopeo). */
export async function skopeoDigestAsync(reference: string, extra: string[] = []): Promise<string> {
  requireTool('skopeo');
  const { stdout } = await promisify(execFile)('skopeo', ['inspect', '--tls-verify=false', ...extra, `docker://${reference}`], { encoding: 'utf8' });
  return (JSON.parse(stdout) as { Digest: string }).Digest;
}

export function skopeoDigest(reference: string, extra: string[] = []): string {
  requireTool('skopeo');
  const out = JSON.parse(run('skopeo', ['inspect', '--tls-verify=false', ...extra, `docker://${reference}`])) as { Digest: string };
  return out.Digest;
}
