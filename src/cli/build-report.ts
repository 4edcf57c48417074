import { formatBytes, type Output } from './output.js';

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
  layers: { digest: string; diffId: string; size: number; mediaType: string; uncompressedSize: number; createdBy?: string; source?: string }[];
  sbom?: { digest: string; mediaType: string; format: string; packages: number; files: number };
  provenance?: { digest: string; predicateType: string };
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
    const from = layer.source === 'registry-cache' ? ', from the registry cache' : layer.source === 'local-cache' ? ', from the layer cache' : '';
    out.info(`layer ${i + 1}/${result.layers.length} ${layer.digest} ${formatBytes(layer.size)} (${formatBytes(layer.uncompressedSize)} uncompressed${from})${createdBy}`);
  }
  if (result.sbom) out.info(`sbom ${result.sbom.digest} (${result.sbom.format}: ${result.sbom.packages} packages, ${result.sbom.files} files), a referrer of the image`);
  if (result.provenance) out.info(`provenance ${result.provenance.digest} (${result.provenance.predicateType}, signed), a referrer of the image`);
  reportWrittenImage(out, result, {
    ...extra,
    layers: result.layers.map((l) => ({
      digest: l.digest, diffId: l.diffId, size: l.size, mediaType: l.mediaType, uncompressedSize: l.uncompressedSize,
      ...(l.createdBy !== undefined ? { createdBy: l.createdBy } : {}),
      ...(l.source !== undefined ? { source: l.source } : {}),
    })),
    config: { digest: result.config.digest, size: result.config.size },
    ...(result.base ? { base: result.base } : {}),
    ...(result.sbom ? { sbom: result.sbom } : {}),
    ...(result.provenance ? { provenance: result.provenance } : {}),
  });
}

const PROGRESS_AFTER_MS = 300;
const PROGRESS_EVERY_MS = 100;

/** A throttled progress line for layers that take a while; nothing off a TTY or with --quiet. */
export function progressReporter(out: Output) {
  let layerStart = 0;
  let currentLayer = -1;
  let last = 0;
  return (p: { layer: number; layers: number; source: string; bytes: number; entries?: number; totalBytes?: number }) => {
    if (!out.isTTY) return;
    const now = Date.now();
    if (p.layer !== currentLayer) {
      currentLayer = p.layer;
      layerStart = now;
    }
    if (now - layerStart < PROGRESS_AFTER_MS || now - last < PROGRESS_EVERY_MS) return;
    last = now;
    const amount = p.totalBytes ? `${formatBytes(p.bytes)} / ${formatBytes(p.totalBytes)}` : formatBytes(p.bytes);
    const files = p.entries !== undefined ? `, ${p.entries} entries` : '';
    const rate = formatBytes(p.bytes / Math.max(0.001, (now - layerStart) / 1000));
    out.live(`layer ${p.layer + 1}/${p.layers} ${p.source}: ${amount}${files} (${rate}/s)`);
  };
}
