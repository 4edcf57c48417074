import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isOcipushError, OcipushError, type ErrorCode } from '../errors.js';
import type { Descriptor, Platform } from '../oci/descriptor.js';
import { Annotation, describePlatform, embeddedDataProblem, entryPlatform, platformArgument, platformFields, formatPlatform, isForeignLayer, platformMatches } from '../oci/descriptor.js';
import { Digester, digestAlgorithm, isDigest, type Digest } from '../oci/digest.js';
import { layerCompression, MediaType } from '../oci/media-types.js';
import { isIndex, parseImageConfig, platformOfConfig, type ImageManifest } from '../oci/manifest.js';
import { operationOptions, type OperationOptions, type ReadOnlyStorage } from '../content/storage.js';
import { MAX_CONFIG_BYTES, readSmall } from '../content/verify.js';
import { createDecompressor } from '../layer/compress/decompressor.js';
import type { Zlib } from 'node:zlib';
import { eachAtMost } from '../each-at-most.js';
import { MAX_INDEX_DEPTH, readManifest } from './load.js';
import { exactFirst, listPlatforms, platformImages, runnablePlatforms } from './platform.js';

export interface ValidateOptions extends OperationOptions {
  /** Names the image in problems: the reference as the user wrote it. */
  name?: string;
  /** Only ask whether each blob is there, at its size (a HEAD, a stat): no blob is read. */
  fast?: boolean;
  /** Only the images of an index for this platform (default: every one). */
  platform?: Platform;
  /** Blobs read at once (default 4: decompression runs on libuv's threads, one per core). */
  concurrency?: number;
  /** Called as each blob is done, for progress. */
  onBlob?: (done: number, total: number, bytes: number) => void;
}

export interface ValidationProblem {
  /** EDIGEST (bytes or diff_id wrong), ENOTFOUND / ELAYOUT (missing), EINVALID (does not parse or disagrees). */
  code: ErrorCode;
  message: string;
  /** The blob or manifest the problem is in. */
  digest: string;
}

export interface ValidatedManifest {
  digest: Digest;
  mediaType: string;
  kind: 'index' | 'image' | 'artifact';
  platform?: string;
  /** A Windows image's os.version, beside its platform. */
  osVersion?: string;
  layers?: number;
}

export interface ValidationReport {
  digest: Digest;
  mediaType: string;
  fast: boolean;
  manifests: ValidatedManifest[];
  /** Configs, layers and artifact blobs checked, each once. */
  blobs: number;
  /** Bytes read and digested (0 with `fast`). */
  bytesRead: number;
  problems: ValidationProblem[];
}

/**
 * Checks that an image (or every image of an index) is whole and says what it claims, as
 * `crane validate` does: every manifest and blob is there and matches its digest and size, each
 * layer decompresses to the diff_id its config lists, the config lists one diff_id per layer,
 * and an index's entries agree with what they point at (media type, platform). Problems are
 * collected, not thrown, so one run names them all; what stops a check that is not about the
 * image (the registry unreachable, credentials refused, interrupted) is thrown.
 */
export async function validateImage(storage: ReadOnlyStorage, root: Descriptor, options: ValidateOptions = {}): Promise<ValidationReport> {
  const run = new Validation(storage, options);
  await run.manifest(root, 0);
  if (options.platform && !run.manifests.some((m) => m.kind === 'image')) {
    const has = run.passedOver.size > 0 ? ` (it has: ${[...run.passedOver].join(', ')})` : '';
    throw new OcipushError('ENOTFOUND', `${options.name ?? 'image'} has no image for ${platformArgument(options.platform)}${has}`, { digest: root.digest });
  }
  await run.blobs();
  return {
    digest: root.digest, mediaType: run.rootMediaType ?? root.mediaType, fast: Boolean(options.fast),
    manifests: run.manifests, blobs: run.checks.size, bytesRead: run.bytesRead, problems: run.problems,
  };
}

interface BlobCheck {
  descriptor: Descriptor;
  /** For a layer: the diff_id its config lists. */
  diffId?: string;
  /** Where the blob sits, for messages: "registry.example.com/app:1 linux/arm64 layer 2". */
  where: string;
  /** Read already (an image's config, which the checks of its layers need first). */
  read?: boolean;
}

class Validation {
  readonly manifests: ValidatedManifest[] = [];
  readonly problems: ValidationProblem[] = [];
  readonly checks = new Map<string, BlobCheck>();
  rootMediaType: string | undefined;
  bytesRead = 0;
  private readonly seen = new Set<string>();
  /** Platforms of the images without one in their index that --platform passed over, for the error when none is left. */
  readonly passedOver = new Set<string>();
  private readonly name: string;

  constructor(private readonly storage: ReadOnlyStorage, private readonly options: ValidateOptions) {
    this.name = options.name ?? 'image';
  }

  async manifest(desc: Descriptor, depth: number, listed?: Platform, asked?: Platform): Promise<void> {
    if (this.seen.has(desc.digest)) return;
    this.seen.add(desc.digest);
    const read = await this.problem(desc.digest, () => readManifest(this.storage, desc, { name: this.name, ...operationOptions(this.options) }));
    if (!read) return;
    const { parsed } = read;
    if (depth === 0) this.rootMediaType = parsed.mediaType;
    const what = `${this.name}: manifest ${desc.digest}`;
    if (depth > 0 && desc.mediaType && parsed.mediaType && desc.mediaType !== parsed.mediaType) {
      this.add('EINVALID', desc.digest, `${what}: the index lists it as ${desc.mediaType}, the manifest says ${parsed.mediaType}`);
    }
    if (isIndex(parsed)) {
      this.manifests.push({ digest: desc.digest, mediaType: parsed.mediaType!, kind: 'index' });
      if (depth >= MAX_INDEX_DEPTH) {
        this.add('EINVALID', desc.digest, `${what}: image indexes nested too deep`);
        return;
      }
      const wanted = this.options.platform;
      // The entries --platform chooses, as pull chooses: of a lower variant when none is of its own (arm/v6 for arm/v7).
      const chosen = wanted && runnablePlatforms(wanted).find((p) => parsed.manifests.some((c) => platformMatches(p, c.platform)));
      // One entry of those, as pull takes one: the exact one first (linux/amd64 is not an amd64/v3 listed before it).
      const entry = chosen && exactFirst(parsed.manifests, chosen).find((c) => platformMatches(chosen, c.platform));
      const children = wanted ? parsed.manifests.filter((c) => !c.platform || c === entry) : parsed.manifests;
      if (wanted && children.length === 0) {
        // An index inside (one of a layout's images) without the platform is not asked about; the root must have it.
        if (depth > 0) return;
        throw new OcipushError('ENOTFOUND', `${this.name} has no image for ${platformArgument(wanted)} (it has: ${listPlatforms(platformImages(parsed.manifests))})`, { digest: desc.digest });
      }
      parsed.manifests.forEach((child, i) => this.embedded(child, `${what}: manifests[${i}]`));
      for (const child of children) await this.manifest(child, depth + 1, child.platform, chosen || wanted);
      return;
    }
    await this.image(desc, parsed, what, listed, depth === 0, asked);
  }

  private async image(desc: Descriptor, manifest: ImageManifest, what: string, listed: Platform | undefined, root = false, asked?: Platform): Promise<void> {
    const configType = manifest.config.mediaType;
    // BuildKit's attestation manifests have an image config (of unknown/unknown) over in-toto layers.
    const attestation = desc.annotations?.[Annotation.ReferenceType] === 'attestation-manifest';
    if (attestation || (configType !== MediaType.OciConfig && configType !== MediaType.DockerConfig)) {
      // An artifact (an attestation, an SBOM): its blobs are checked by digest, none is a layer.
      this.manifests.push({ digest: desc.digest, mediaType: manifest.mediaType!, kind: 'artifact' });
      this.embeddedOf(manifest, what);
      this.blob({ descriptor: manifest.config, where: `${what}: config ${manifest.config.digest}` });
      manifest.layers.forEach((blob, i) => this.blob({ descriptor: blob, where: `${what}: blob ${i} ${blob.digest}` }));
      return;
    }
    const configWhere = `${what}: config ${manifest.config.digest}`;
    const config = await this.problem(manifest.config.digest, async () => {
      if (manifest.config.size > MAX_CONFIG_BYTES) throw new OcipushError('EINVALID', `${configWhere}: ${manifest.config.size} bytes is too large`);
      const bytes = await readSmall(await this.storage.fetch(manifest.config, operationOptions(this.options)), MAX_CONFIG_BYTES, configWhere);
      return parseImageConfig(bytes, configWhere);
    }, configWhere);
    // A config that leaves out the variant (`arm` under a `linux/arm/v6` entry) is for the entry's, as skopeo and containerd read it.
    const platform = config ? entryPlatform(platformOfConfig(config), listed) : undefined;
    // An index entry without a platform is for the one its config says, as pull reads it: of
    // another than --platform's, it is not an image the user asked to check.
    if (asked && !listed && platform && !runnablePlatforms(asked).some((p) => platformMatches(p, platform))) {
      this.seen.delete(desc.digest);
      this.passedOver.add(formatPlatform(platform));
      return;
    }
    this.checks.set(manifest.config.digest, { descriptor: manifest.config, where: configWhere, read: true });
    if (config) this.bytesRead += manifest.config.size;
    const wanted = this.options.platform;
    // One image of another platform is not what --platform asked to check, as every verb refuses it.
    if (root && wanted && platform && !platformMatches(wanted, platform)) {
      throw new OcipushError('ENOTFOUND', `${this.name} is one image for ${describePlatform(platform)}, not for ${platformArgument(wanted)} (--platform)`, { digest: desc.digest });
    }
    this.manifests.push({ digest: desc.digest, mediaType: manifest.mediaType!, kind: 'image', ...(platform ? platformFields(platform) : {}), layers: manifest.layers.length });
    this.embeddedOf(manifest, what);
    const label = platform ? `${this.name} ${describePlatform(platform)}` : what;
    // os, architecture and variant, which decide whether the image runs; the os.version the entry and the config write is not held against each other.
    const { 'os.version': _listedVersion, ...listedPlatform } = listed ?? { os: '', architecture: '' };
    if (config && listed && !platformMatches(listedPlatform, platform)) {
      this.add('EINVALID', desc.digest, `${label}: the index lists it for ${formatPlatform(listed)}, its config says ${formatPlatform(platform!)}`);
    }
    const diffIds = config?.rootfs.diff_ids;
    if (diffIds && diffIds.length !== manifest.layers.length) {
      this.add('EINVALID', manifest.config.digest, `${label}: the config lists ${diffIds.length} diff_ids for ${manifest.layers.length} layers`);
    }
    const checkDiffIds = diffIds?.length === manifest.layers.length;
    manifest.layers.forEach((layer, i) => this.blob({
      descriptor: layer, where: `${label} layer ${i}`,
      ...(checkDiffIds ? { diffId: diffIds[i]! } : {}),
    }));
  }

  /** A descriptor's embedded `data` must be the blob it names: a reader that uses it sees those bytes. */
  private embedded(desc: Descriptor, where: string): void {
    const problem = embeddedDataProblem(desc);
    if (problem !== undefined) this.add('EINVALID', desc.digest, `${where} ${desc.digest}: ${problem}`);
  }

  private embeddedOf(manifest: ImageManifest, what: string): void {
    this.embedded(manifest.config, `${what}: config`);
    manifest.layers.forEach((layer, i) => this.embedded(layer, `${what}: layers[${i}]`));
  }

  /** Queues a blob; one blob that several manifests share is checked once. */
  private blob(check: BlobCheck): void {
    if (!this.checks.has(check.descriptor.digest)) this.checks.set(check.descriptor.digest, check);
  }

  /** Checks the queued blobs (configs were read already), a few at once. */
  async blobs(): Promise<void> {
    const queue = [...this.checks.values()].filter((c) => !c.read);
    const total = queue.length;
    let done = 0;
    // A problem is collected by problem(), never thrown: every blob is checked.
    await eachAtMost(queue, this.options.concurrency ?? 4, async (check) => {
      await this.problem(check.descriptor.digest, () => (this.options.fast ? this.present(check) : this.read(check)), check.where);
      this.options.onBlob?.(++done, total, this.bytesRead);
    });
  }

  private async present({ descriptor, where }: BlobCheck): Promise<void> {
    // A foreign layer lives at its urls, which no registry or layout need hold (a full check reads it from there).
    if (isForeignLayer(descriptor)) return;
    if (!(await this.storage.exists(descriptor, operationOptions(this.options)))) {
      throw new OcipushError('ENOTFOUND', `${where}: blob ${descriptor.digest} is missing (or not ${descriptor.size} bytes)`, { digest: descriptor.digest });
    }
  }

  /** Reads the blob through the storage, which fails it unless digest and size match; a layer's bytes are also decompressed and hashed against its diff_id. */
  private async read({ descriptor, diffId, where }: BlobCheck): Promise<void> {
    if (diffId !== undefined && !isDigest(diffId)) throw new OcipushError('EINVALID', `${where}: the config's diff_id "${diffId}" is not a digest`, { digest: descriptor.digest });
    const body = await this.storage.fetch(descriptor, operationOptions(this.options));
    // A layout's or an archive's file stream takes no signal: the pipeline is what the caller's
    // signal cuts (validate({ signal }) read a whole layout on after its abort and resolved).
    const signal = this.options.signal;
    const cut = signal ? { signal } : {};
    if (diffId === undefined) {
      await pipeline(body, drain(() => {}), cut);
    } else {
      const uncompressed = new Digester(digestAlgorithm(diffId));
      const compression = layerCompression(descriptor.mediaType);
      const decompressor = createDecompressor(compression);
      await pipeline(body, decompressor, drain((chunk) => uncompressed.update(chunk)), cut).catch(async (err: unknown) => {
        if (isOcipushError(err)) throw err;
        // Stopped by the caller, not by the bytes: no problem of the image's.
        if (signal?.aborted) throw new OcipushError('EABORTED', `${where}: blob ${descriptor.digest}: validation aborted`, { digest: descriptor.digest, cause: err });
        // Bytes that are not what their digest says fail to decompress too: that is the cause to name, so read the blob once more, whole.
        await pipeline(await this.storage.fetch(descriptor, operationOptions(this.options)), drain(() => {}));
        throw new OcipushError('EINVALID', `${where}: blob ${descriptor.digest} does not decompress as ${compression}: ${(err as Error).message}`, { digest: descriptor.digest, cause: err });
      });
      // zlib counts the input its gzip members took and passes over zero bytes after them, which
      // Go's gzip reader (containerd, podman, umoci) takes for a next member: "invalid header".
      const taken = compression === 'gzip' ? (decompressor as Partial<Zlib>).bytesWritten : undefined;
      if (taken !== undefined && taken < descriptor.size) {
        throw new OcipushError('EINVALID', `${where}: blob ${descriptor.digest} has ${descriptor.size - taken} bytes after its gzip stream, which containerd, podman and umoci refuse ("gzip: invalid header")`, { digest: descriptor.digest });
      }
      const actual = uncompressed.digest();
      if (actual !== diffId) throw new OcipushError('EDIGEST', `${where}: blob ${descriptor.digest} decompresses to ${actual}, but the config lists diff_id ${diffId}`, { digest: descriptor.digest });
    }
    this.bytesRead += descriptor.size;
  }

  /** Runs a check; a failure that is about the image becomes a problem (and undefined), anything else stops the run. */
  private async problem<T>(digest: string, check: () => Promise<T>, where?: string): Promise<T | undefined> {
    try {
      return await check();
    } catch (err) {
      if (!isOcipushError(err) || !IMAGE_FAULTS.has(err.code)) throw err;
      // The storage's own words name the blob but not which image it belongs to.
      this.add(err.code, digest, where && !err.message.startsWith(where) ? `${where}: ${err.message}` : err.message);
      return undefined;
    }
  }

  private add(code: ErrorCode, digest: string, message: string): void {
    this.problems.push({ code, digest, message });
  }
}

/** Failures that say something about the image itself; the rest (network, auth, disk, interrupt) stop a validation. */
const IMAGE_FAULTS = new Set<ErrorCode>(['EDIGEST', 'ENOTFOUND', 'ELAYOUT', 'EINVALID', 'EUNSUPPORTED']);

function drain(each: (chunk: Buffer) => void): Writable {
  return new Writable({
    highWaterMark: 1 << 20,
    write(chunk: Buffer, _encoding, callback) {
      each(chunk);
      callback();
    },
  });
}

