import { OcipushError } from '../errors.js';
import type { Descriptor } from '../oci/descriptor.js';
import { Digester, isDigest, sha256, type Digest } from '../oci/digest.js';
import { layerCompression, layerMediaType, MediaType, type ImageFormat } from '../oci/media-types.js';
import { SNIFF_BYTES, sniffCompression } from '../layer/compress/decompressor.js';
import { encodeJson, isIndex, parseManifest, type AnyManifest, type ImageManifest } from '../oci/manifest.js';
import { MAX_CONFIG_BYTES, MAX_MANIFEST_BYTES, readSmall } from '../content/verify.js';
import { ArchiveBlobs } from './archive-storage.js';
import type { DockerArchiveManifestEntry } from './docker-archive.js';
import { qualifiedName } from './names.js';
import { TarIndex, type TarMember } from './tar-index.js';

/** One image of the archive: its names and the manifest that describes it. */
export interface DockerArchiveImage {
  repoTags: string[];
  root: Descriptor;
}

const BLOB_PATH = /^blobs\/sha256\/([a-f0-9]{64})$/;
const UNCOMPRESSED_LAYER = 'application/vnd.docker.image.rootfs.diff.tar';

/**
 * What `docker save`, `podman save` and `skopeo copy … docker-archive:` write, read in place
 * (nothing is extracted): `manifest.json` lists each image's config, layers and names.
 *
 * The image's manifest is the archive's own when it has one (docker save ≥ 25 and ocipush export
 * store it among the blobs), so the digest is the one the image had in its registry. Older
 * archives (legacy `<id>/layer.tar` members) have none: a Docker v2 schema 2 manifest is made up
 * for them, as skopeo does, with each layer described as the bytes the archive holds. An
 * uncompressed layer's digest is its diff_id in the config, as skopeo and podman load take it, so
 * a layer whose bytes are not the config's fails its digest check when it is read, instead of
 * going out as an image whose layer contradicts its config; a compressed one is read once to
 * learn its digest.
 */
export class DockerArchiveReader extends ArchiveBlobs {
  private constructor(tar: TarIndex, readonly images: DockerArchiveImage[]) {
    super(tar);
  }

  static async open(file: string): Promise<DockerArchiveReader> {
    const tar = await TarIndex.open(file);
    const entries = await readManifestJson(tar);
    const images: DockerArchiveImage[] = [];
    const reader = new DockerArchiveReader(tar, images);
    const candidates = await storedManifests(tar);
    for (const entry of entries) images.push({ repoTags: entry.RepoTags ?? [], root: await reader.describe(entry, candidates) });
    return reader;
  }

  /**
   * The image a name picks: a RepoTag (`hello:1` matches `docker.io/library/hello:1`), `@N` (the
   * Nth image, as skopeo numbers them from 0), a manifest digest (`hello@sha256:…`, the digest
   * copy and inspect print for it), or nothing when the archive holds one image.
   */
  async resolve(name?: string): Promise<Descriptor> {
    // Every name an image answers to (an image saved under two tags has two), or its position.
    const list = this.images.flatMap((image, i) => (image.repoTags.length > 0 ? image.repoTags : [`@${i}`])).join(', ') || 'none';
    if (name === undefined || name === '') {
      if (this.images.length === 1) return this.images[0]!.root;
      throw new OcipushError('ENOTFOUND', `${this.tar.file}: the archive holds ${this.images.length} images, name one (${list})`);
    }
    // A digest (REPO@sha256:…, or sha256:… alone) picks the image whose manifest has it, never one
    // by its name alone: docker and skopeo read REPO@DIGEST as that image or none.
    const digest = /(?:^|@)(sha256:[a-f0-9]{64})$/.exec(name)?.[1];
    if (digest !== undefined) {
      const found = this.images.find((image) => image.root.digest === digest);
      if (!found) throw new OcipushError('ENOTFOUND', `${this.tar.file}: no image with digest ${digest} (the archive has: ${this.images.map((image, i) => `${image.repoTags[0] ?? `@${i}`} ${image.root.digest}`).join(', ')})`);
      return found.root;
    }
    const byIndex = /^@(\d+)$/.exec(name);
    const found = byIndex
      ? this.images[Number(byIndex[1])]
      : this.images.find((image) => image.repoTags.some((tag) => tag === name || sameName(tag, name)));
    if (!found) throw new OcipushError('ENOTFOUND', `${this.tar.file}: no image named "${name}" (the archive has: ${list})`);
    return found.root;
  }

  private async describe(entry: DockerArchiveManifestEntry, candidates: Map<Digest, { bytes: Buffer; parsed: AnyManifest }>): Promise<Descriptor> {
    const configMember = this.need(entry.Config);
    const configBytes = await readSmall(this.tar.read(configMember), MAX_CONFIG_BYTES, `${this.tar.file}: ${entry.Config}`);
    const configDigest = sha256(configBytes);
    this.addAlias(configDigest, configMember);
    const diffIds = diffIdsOf(configBytes);
    const layers: Descriptor[] = [];
    for (const [i, path] of entry.Layers.entries()) layers.push(await this.layerOf(path, diffIds?.[i]));
    for (const [digest, { bytes, parsed }] of candidates) {
      if (isIndex(parsed) || parsed.config.digest !== configDigest) continue;
      if (parsed.layers.length !== layers.length || parsed.layers.some((l, i) => l.digest !== layers[i]!.digest)) continue;
      return { mediaType: parsed.mediaType ?? MediaType.OciManifest, digest, size: bytes.length };
    }
    // Docker's media types have no zstd: an image with a zstd layer is described in OCI's, as
    // skopeo and podman push such an image, so that they and every other reader can read it.
    const format: ImageFormat = layers.some((l) => layerCompression(l.mediaType) === 'zstd') ? 'oci' : 'docker';
    const manifestType = format === 'oci' ? MediaType.OciManifest : MediaType.DockerManifest;
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: manifestType,
      config: { mediaType: format === 'oci' ? MediaType.OciConfig : MediaType.DockerConfig, digest: configDigest, size: configBytes.length },
      layers: layers.map((l) => ({ ...l, mediaType: layerMediaType(layerCompression(l.mediaType), format) })),
    };
    const bytes = encodeJson(manifest);
    const digest = sha256(bytes);
    this.addMade(digest, bytes);
    return { mediaType: manifestType, digest, size: bytes.length };
  }

  private async layerOf(path: string, diffId: Digest | undefined): Promise<Descriptor> {
    const member = this.need(path);
    const named = BLOB_PATH.exec(member.path);
    const mediaType = await this.layerMediaType(member);
    if (named) return { mediaType, digest: `sha256:${named[1]}` as Digest, size: member.size };
    // Uncompressed, the bytes are the diff_id's: fetch verifies them against it as they stream.
    const digest = mediaType === UNCOMPRESSED_LAYER && diffId !== undefined ? diffId : await digestOf(this.tar, member);
    this.addAlias(digest, member);
    return { mediaType, digest, size: member.size };
  }

  /** Docker media types (the archive is docker's format; zstd, which Docker has no name for, OCI's); the compression is told by the magic bytes. */
  private async layerMediaType(member: TarMember): Promise<string> {
    // A 0-byte layer is an empty tar (docker and podman load take it so).
    const head = member.size === 0 ? Buffer.alloc(0) : await readSmall(this.tar.read(member, 0, Math.min(member.size, SNIFF_BYTES) - 1), SNIFF_BYTES, member.path);
    const compression = sniffCompression(head);
    return compression === 'none' ? UNCOMPRESSED_LAYER : layerMediaType(compression, 'docker');
  }

  private need(path: string): TarMember {
    const member = this.tar.get(path);
    if (!member) throw new OcipushError('EINVALID', `${this.tar.file}: manifest.json names ${path}, which the archive does not hold${this.tar.truncation()}`);
    return member;
  }
}

function sameName(a: string, b: string): boolean {
  try {
    return qualifiedName(a) === qualifiedName(b);
  } catch {
    return false;
  }
}

/** The RepoTags of the archive's images, in manifest.json's order, as `skopeo list-tags docker-archive:` lists them: no blob is read. */
export async function archiveRepoTags(file: string): Promise<string[]> {
  const tar = await TarIndex.open(file);
  try {
    return (await readManifestJson(tar)).flatMap((entry) => entry.RepoTags ?? []);
  } finally {
    await tar.close();
  }
}

async function readManifestJson(tar: TarIndex): Promise<DockerArchiveManifestEntry[]> {
  const member = tar.get('manifest.json');
  if (!member) {
    const other = tar.get('index.json') && tar.get('oci-layout') ? `; it is an OCI archive: oci-archive:${tar.file} reads it` : tar.nesting('manifest.json');
    throw new OcipushError('EINVALID', `${tar.file}: not a docker archive (no manifest.json${other})${tar.truncation()}`);
  }
  const bytes = await readSmall(tar.read(member), MAX_MANIFEST_BYTES, `${tar.file}: manifest.json`);
  let entries: unknown;
  try {
    entries = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new OcipushError('EINVALID', `${tar.file}: manifest.json is not JSON (${(err as Error).message})`);
  }
  // Layers null: Go's empty list, as docker save writes an image without layers (FROM scratch and
  // only LABELs); skopeo and podman load read it so.
  const valid = Array.isArray(entries) && entries.every((e) => typeof e?.Config === 'string' && (Array.isArray(e?.Layers) || e?.Layers === null));
  if (!valid) throw new OcipushError('EINVALID', `${tar.file}: manifest.json does not list images (Config, Layers)`);
  return (entries as DockerArchiveManifestEntry[]).map((e) => ({ ...e, Layers: e.Layers ?? [] }));
}

/** The manifests among the archive's digest-named blobs: small JSON documents that parse as one. */
async function storedManifests(tar: TarIndex): Promise<Map<Digest, { bytes: Buffer; parsed: AnyManifest }>> {
  const found = new Map<Digest, { bytes: Buffer; parsed: AnyManifest }>();
  for (const path of tar.paths()) {
    const named = BLOB_PATH.exec(path);
    const member = tar.get(path)!;
    if (!named || member.size > 256 * 1024 || member.size < 2) continue;
    const bytes = await readSmall(tar.read(member), MAX_MANIFEST_BYTES, path);
    if (bytes[0] !== 0x7b /* { */ || !bytes.includes('"layers"')) continue;
    try {
      found.set(`sha256:${named[1]}` as Digest, { bytes, parsed: parseManifest(bytes, path) });
    } catch {
      // A config or another JSON blob, not a manifest.
    }
  }
  return found;
}

/** The config's sha256 diff_ids, or undefined when it lists none that can be trusted as digests. */
function diffIdsOf(configBytes: Buffer): Digest[] | undefined {
  try {
    const ids = (JSON.parse(configBytes.toString('utf8')) as { rootfs?: { diff_ids?: unknown } }).rootfs?.diff_ids;
    return Array.isArray(ids) && ids.every((id) => isDigest(id) && id.startsWith('sha256:')) ? ids as Digest[] : undefined;
  } catch {
    return undefined;
  }
}

async function digestOf(tar: TarIndex, member: TarMember): Promise<Digest> {
  const digester = new Digester('sha256');
  for await (const chunk of tar.read(member) as AsyncIterable<Buffer>) digester.update(chunk);
  return digester.digest();
}
