import type { Writable } from 'node:stream';
import { stat } from 'node:fs/promises';
import { fromWriteError } from '../errors.js';
import { OciLayout } from '../content/layout.js';
import type { ConnectRegistry } from '../transfer/lazy-blobs.js';
import { isForeignLayer, parsePlatform, type Platform } from '../oci/descriptor.js';
import { writeDockerArchive, type ArchiveBlobs, type ArchiveOptions, type ArchiveSummary } from './docker-archive.js';
import { parseRepositoryFlag } from './names.js';
import { parseImageSelector, selectImages, type ImageSelector } from './select.js';
import { openFileSink, stdoutSink, type ArchiveSink } from './sink.js';

export type { ArchiveSummary, ArchiveImageSummary, DockerArchiveManifestEntry } from './docker-archive.js';
export { parseImageSelector } from './select.js';

export const DEFAULT_EXPORT_PLATFORM = 'linux/amd64';

export interface ExportOptions extends ArchiveOptions {
  /** The OCI layout directory (or an opened layout) the images come from. */
  layout: string | OciLayout;
  /** `IMAGE[=REPO:TAG]` strings or parsed selectors; none = every tagged image of the layout. */
  images?: (string | ImageSelector)[];
  /** Repository for images whose layout name is a bare tag (`latest` → `REPO:latest`). */
  repository?: string;
  /** Which image of a multi-platform index to export (default linux/amd64). */
  platform?: string | Platform;
  /** A file path (written under a temp name, renamed when complete) or a stream. */
  output: string | Writable;
  /** How to reach the registry of a base image whose layers the layout only references (default TLS and credentials). */
  connect?: ConnectRegistry;
  /** Told when a name is chosen for the user (a bare name `hello` exported as `hello:latest`). */
  onNotice?: (message: string) => void;
}

export interface ExportResult extends ArchiveSummary {
  /** The absolute path written, when the output was a file. */
  output?: string;
  /** Bytes of the archive file, when the output was a file. */
  size?: number;
}

/**
 * Writes a `docker load` / `podman load` archive of images from an OCI layout.
 *
 *   await exportDockerArchive({ layout: './oci', images: ['hello:scratch'], output: 'hello.tar' })
 */
export async function exportDockerArchive(options: ExportOptions): Promise<ExportResult> {
  const layout = typeof options.layout === 'string' ? await OciLayout.open(options.layout) : options.layout;
  const platform = typeof options.platform === 'string' ? parsePlatform(options.platform) : options.platform ?? parsePlatform(DEFAULT_EXPORT_PLATFORM);
  const repository = options.repository === undefined ? undefined : parseRepositoryFlag(options.repository);
  const selectors = (options.images ?? []).map((s) => (typeof s === 'string' ? parseImageSelector(s) : s));
  // Everything that can be wrong with the request or the layout fails here, before any output.
  const images = await selectImages(layout, selectors, { platform, repository, ...(options.onNotice ? { onNotice: options.onNotice } : {}) });
  // Base layers a build only referenced (ocipush build --base) are streamed from their registry,
  // verified, into the archive and not kept: export writes its archive, never into the layout (which
  // may be read-only). Their registry is asked for each before any output.
  const { LazyBlobs } = await import('../transfer/lazy-blobs.js');
  const lazy = new LazyBlobs(layout, { keep: false, ...(options.connect ? { connect: options.connect } : {}) });
  const source: ArchiveBlobs = {
    // A foreign layer no registry is recorded for is read from its urls, as skopeo reads it.
    exists: async (desc) => (isForeignLayer(desc) && !(await layout.exists(desc)) && (await lazy.sourcesOf(desc)).length === 0) || lazy.exists(desc),
    fetch: (desc) => lazy.fetch(desc),
  };
  let summary: ArchiveSummary;
  let sink: ArchiveSink | undefined;
  try {
    sink = typeof options.output === 'string' ? await openFileSink(options.output) : stdoutSink(options.output);
    summary = await writeDockerArchive(layout, images, sink.stream, options, source);
  } catch (err) {
    await sink?.abort();
    throw sink?.path ? fromWriteError(err, sink.path) : err;
  } finally {
    await lazy.close();
  }
  await sink.commit();
  if (!sink.path) return summary;
  const size = (await stat(sink.path)).size;
  return { ...summary, output: sink.path, size };
}
