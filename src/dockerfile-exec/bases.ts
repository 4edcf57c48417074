import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { trackTemp } from '../content/cleanup.js';
import { OciLayout } from '../content/layout.js';
import type { Descriptor } from '../oci/descriptor.js';
import type { RegistryClient } from '../registry/http.js';
import { resolveBaseImage, type BaseImage } from '../assemble/base.js';
import { defaultConnect, splitSource, type ConnectRegistry } from '../transfer/lazy-blobs.js';
import { readRemoteBlobs } from '../content/remote-blobs.js';
import { loadImageTree, type ImageLayer } from './image-tree.js';
import type { FsTree } from './tree.js';

/**
 * The images a Dockerfile names (FROM, COPY --from), resolved once each, and their layers read
 * into trees when a step needs their files. Layers are streamed from where they are (the
 * target layout when it has them, the `oci:` layout, the registry), verified against their
 * digests, and never stored in the layout (a registry layer is kept in a temp file while the
 * build runs, so that it is downloaded once).
 */
export class ImageSources {
  private readonly images = new Map<string, Promise<BaseImage>>();
  private readonly trees = new Map<string, Promise<FsTree>>();
  private readonly clients = new Map<string, Promise<RegistryClient>>();
  private readonly downloads = new Map<string, Promise<string>>();
  private cacheDir: string | undefined;
  private untrack: (() => void) | undefined;

  constructor(
    private readonly connect: ConnectRegistry = defaultConnect,
    private readonly targetLayout: () => OciLayout | undefined = () => undefined,
    private readonly onRead: (image: BaseImage) => void = () => {},
    /** Where downloaded layers are kept while the build runs (beside the layout). */
    private readonly tempParent: () => string = tmpdir,
  ) {}

  resolve(reference: string, platform: string): Promise<BaseImage> {
    const key = `${reference}\0${platform}`;
    let image = this.images.get(key);
    if (!image) {
      // resolveBaseImage closes the client it is given: it gets its own.
      image = resolveBaseImage(reference, { platform, connect: this.connect });
      this.images.set(key, image);
    }
    return image;
  }

  /** The image's filesystem, its layers read once (later calls share the tree; callers clone it). */
  tree(image: BaseImage): Promise<FsTree> {
    let tree = this.trees.get(image.manifestDigest);
    if (!tree) {
      this.onRead(image);
      const layers: ImageLayer[] = image.manifest.layers.map((descriptor) => ({ descriptor, open: () => this.openLayer(image, descriptor) }));
      tree = loadImageTree(`image ${image.reference}`, layers);
      this.trees.set(image.manifestDigest, tree);
    }
    return tree;
  }

  async close(): Promise<void> {
    if (this.cacheDir) await rm(this.cacheDir, { recursive: true, force: true }).catch(() => {});
    this.untrack?.();
    this.cacheDir = undefined;
    const clients = [...this.clients.values()];
    this.clients.clear();
    for (const c of clients) await (await c.catch(() => undefined))?.close().catch(() => {});
  }

  private async openLayer(image: BaseImage, desc: Descriptor): Promise<Readable> {
    const target = this.targetLayout();
    if (target && (await target.exists(desc))) return target.fetch(desc);
    const source = image.source;
    if (source.kind === 'layout') {
      const layout = await OciLayout.open(source.root);
      if (await layout.exists(desc)) return layout.fetch(desc);
      // A layer that layout only references: fetch it from where it recorded it.
      for (const repository of (await readRemoteBlobs(layout.root)).get(desc.digest) ?? []) {
        const { registry, repository: name } = splitSource(repository);
        return this.downloaded(registry, name, desc);
      }
      throw await layout.unusableBlobError(desc, `base image ${image.reference}: layer ${desc.digest} in ${layout.root}`);
    }
    return this.downloaded(source.registry, source.repository, desc);
  }

  /**
   * A registry blob, downloaded once (verified) to a temp file that later reads use: a build
   * reads a layer once to list its files and again to copy some out.
   */
  private async downloaded(registry: string, repository: string, desc: Descriptor): Promise<Readable> {
    let pending = this.downloads.get(desc.digest);
    if (!pending) {
      pending = this.download(registry, repository, desc);
      this.downloads.set(desc.digest, pending);
      pending.catch(() => this.downloads.delete(desc.digest));
    }
    return createReadStream(await pending, { highWaterMark: 1 << 20 });
  }

  private async download(registry: string, repository: string, desc: Descriptor): Promise<string> {
    const { fetchBlob } = await import('../registry/blobs.js');
    if (!this.cacheDir) {
      this.cacheDir = await mkdtemp(join(this.tempParent(), '.ocipush-files-'));
      this.untrack = trackTemp(this.cacheDir);
    }
    const path = join(this.cacheDir, desc.digest.replace(':', '-'));
    await pipeline(await fetchBlob(await this.client(registry), repository, desc), createWriteStream(path, { mode: 0o600 }));
    return path;
  }

  private client(registry: string): Promise<RegistryClient> {
    let client = this.clients.get(registry);
    if (!client) {
      client = Promise.resolve(this.connect(registry));
      this.clients.set(registry, client);
    }
    return client;
  }
}
