import type { Output } from './output.js';
import { formatBytes } from './output.js';

/** What every command that writes an image into a layout reports first. */
export interface WrittenImage {
  digest: string;
  size: number;
  mediaType: string;
  tag: string;
  layout: string;
}

interface BuiltImage extends WrittenImage {
  config: { digest: string; size: number };
  base?: { reference: string; digest: string; layers: number };
  layers: { digest: string; diffId: string; size: number; mediaType: string; uncompressedSize: number; createdBy?: string }[];
}

/** The `tag: / digest: / size: / layout:` lines on stdout, or the JSON result with `extra` fields. */
export function reportWrittenImage(out: Output, result: WrittenImage, extra: Record<string, unknown>): void {
  out.result([
    `tag:    ${result.tag}`,
    `digest: ${result.digest}`,
    `size:   ${result.size}`,
    `layout: ${result.layout}`,
  ].join('\n'), {
    digest: result.digest,
    size: result.size,
    mediaType: result.mediaType,
    tag: result.tag,
    layout: result.layout,
    ...extra,
  });
}

/** A build's base and layers on stderr, then its result: shared by `build` and `build -f`. */
export function reportBuild(out: Output, result: BuiltImage, extra: Record<string, unknown> = {}): void {
  out.clearLive();
  if (result.base) out.info(`base ${result.base.reference} ${result.base.digest} (${result.base.layers} layer${result.base.layers === 1 ? '' : 's'})`);
  for (const [i, layer] of result.layers.entries()) {
    const createdBy = layer.createdBy ? `: ${layer.createdBy}` : '';
    out.info(`layer ${i + 1}/${result.layers.length} ${layer.digest} ${formatBytes(layer.size)} (${formatBytes(layer.uncompressedSize)} uncompressed)${createdBy}`);
  }
  reportWrittenImage(out, result, {
    ...extra,
    layers: result.layers.map((l) => ({
      digest: l.digest, diffId: l.diffId, size: l.size, mediaType: l.mediaType, uncompressedSize: l.uncompressedSize,
      ...(l.createdBy !== undefined ? { createdBy: l.createdBy } : {}),
    })),
    config: { digest: result.config.digest, size: result.config.size },
    ...(result.base ? { base: result.base } : {}),
  });
}
