import type { Writable } from 'node:stream';
import { stat } from 'node:fs/promises';
import { fromWriteError } from '../errors.js';
import { OciLayout } from '../content/layout.js';
import type { ConnectRegistry } from '../transfer/lazy-blobs.js';
import { parsePlatform, type Platform } from '../oci/descriptor.js';
import { writeDockerArchive, type ArchiveOptions, type ArchiveSummary } from './docker-archive.js';
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
  // Opened before a base layer is fetched: an archive that cannot be written (a missing
  // directory) fails at once, leaving the layout as it was rather than holding the layers fetched.
  const sink: ArchiveSink = typeof options.output === 'string' ? await openFileSink(options.output) : stdoutSink(options.output);
  try {
    // Base layers a build only referenced (ocipush build --base) are fetched now, verified, before any output.
    const { fetchRecordedBlobs } = await import('../transfer/lazy-blobs.js');
    await fetchRecordedBlobs(layout, images.flatMap((image) => image.manifest.layers), options.connect ? { connect: options.connect } : {});
  } catch (err) {
    await sink.abort();
    throw err;
  }
  let summary: ArchiveSummary;
  try {
    summary = await writeDockerArchive(layout, images, sink.stream, options);
  } catch (err) {
    await sink.abort();
    throw sink.path ? fromWriteError(err, sink.path) : err;
  }
  await sink.commit();
  if (!sink.path) return summary;
  const size = (await stat(sink.path)).size;
  return { ...summary, output: sink.path, size };
}
