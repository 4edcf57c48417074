import type { Descriptor } from '../oci/descriptor.js';
import type { CopyEvent, CopyOutcome, NodeKind } from '../transfer/copy-graph.js';
import { resolve } from 'node:path';
import { defaultLayoutDir } from '../defaults.js';
import { libraryCall } from './errors.js';
import { concurrencyOf, connectWith, type RegistryOptions } from './options.js';

export interface PullOptions extends RegistryOptions {
  /** `REGISTRY/REPOSITORY[:TAG|@DIGEST]`. */
  from: string;
  /** The layout to write into, created when missing; default `$OCIPUSH_LAYOUT` or `./oci-layout`. */
  layout?: string;
  /** The image's name in the layout; default the reference's tag (none for a digest). */
  tag?: string;
  /** From a multi-platform index, pull only this `os/arch[/variant]`. */
  platform?: string;
  onEvent?: (event: CopyEvent) => void;
}

export interface PullResult {
  digest: string;
  size: number;
  mediaType: string;
  layout: string;
  tag?: string;
  /** Blobs (every node but the root) and whether each was `downloaded` or `exists` already. */
  blobs: { descriptor: Descriptor; kind: NodeKind; outcome: 'downloaded' | Exclude<CopyOutcome, 'uploaded'> }[];
}

/** `ocipush pull`: an image (or a whole index) into a layout, every blob verified as it streams. */
export function pull(options: PullOptions): Promise<PullResult> {
  return libraryCall(`pull ${options.from}`, options.signal, async () => {
    const { parseReference, referenceTarget, formatReference } = await import('../oci/reference.js');
    const { parsePlatform } = await import('../oci/descriptor.js');
    const { Repository } = await import('../registry/repository.js');
    const { copyGraph } = await import('../transfer/copy-graph.js');
    const { OciLayout } = await import('../content/layout.js');
    const source = parseReference(options.from);
    const platform = options.platform === undefined ? undefined : parsePlatform(options.platform);
    const concurrency = concurrencyOf(options);
    const layoutDir = options.layout ?? defaultLayoutDir();
    const name = options.tag ?? source.tag ?? (source.digest ? undefined : 'latest');
    const client = await connectWith(source.registry, options);
    // The signal goes to copyGraph, which hands it to the layout's writes: a download cut there
    // ends its stream. (The client is not destroyed under a running fetch: its resume-on-break
    // would report to a stream nobody reads any more.)
    let layout: import('../content/layout.js').OciLayout | undefined;
    try {
      const repository = new Repository(client, source.repository);
      const fetched = await repository.fetchManifest(referenceTarget(source));
      let root = fetched.descriptor;
      if (platform) {
        const { parseManifest, isIndex } = await import('../oci/manifest.js');
        const { choosePlatform, noManifestFor } = await import('../image/platform.js');
        const shown = formatReference(source);
        const parsed = parseManifest(fetched.bytes, shown, root.mediaType);
        if (isIndex(parsed)) root = choosePlatform(parsed.manifests, { name: shown, wanted: platform, noMatch: noManifestFor(shown) });
      }
      layout = await OciLayout.open(layoutDir, { create: true });
      const result = await copyGraph(repository, layout, root, {
        concurrency,
        ...(name !== undefined ? { rootReference: name } : {}),
        ...(options.onEvent ? { onEvent: options.onEvent } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      if (name === undefined) {
        await layout.updateIndex((index) => {
          if (!index.manifests.some((d) => d.digest === root.digest)) index.manifests.push({ mediaType: root.mediaType, digest: root.digest, size: root.size });
        });
      }
      await layout.close();
      await client.close();
      return {
        digest: root.digest,
        size: root.size,
        mediaType: root.mediaType,
        layout: resolve(layoutDir),
        ...(name !== undefined ? { tag: name } : {}),
        blobs: result.nodes.filter((n) => n.descriptor.digest !== root.digest)
          .map((n) => ({ descriptor: n.descriptor, kind: n.kind, outcome: n.outcome === 'uploaded' ? 'downloaded' as const : n.outcome })),
      };
    } catch (err) {
      await client.destroy();
      // A pull that made the layout and failed leaves no empty layout behind.
      await layout?.discardIfCreated();
      throw err;
    }
  });
}
