import { count, formatBytes, type Output } from './output.js';
import { LOG_PROGRESS_EVERY_MS } from './progress.js';
import type { RegistryFlags } from './registry-options.js';
import type { Reference } from '../oci/reference.js';
import type { Signer } from '../supply-chain/signer.js';
import type { MadeSignature, SignedIdentity } from './key-options.js';
import type { RepositoryName } from '../supply-chain/signature-repository.js';

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
  sbom?: { digest: string; mediaType: string; format: string; packages: number; files: number; base?: { sbom: string; packages: number; files: number } };
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

/** Where `build --push` sends the image it built, and how; and how `--sign` signs it. */
export interface BuildPushes {
  /** `REGISTRY/REPO[:TAG]` each, `docker://` taken off, parsed; none when only signed in the layout. */
  to: { text: string; reference: Reference }[];
  /** Blobs sent at once (`--concurrency`, checked). */
  concurrency: number;
  /** `--sign`: each pushed digest signed with it (or the layout's image, with `signInLayoutFor`). */
  signer?: Signer;
  /** `--sign-container-identity`: sign once in the layout, for this repository; the pushes carry that signature. */
  signInLayoutFor?: SignedIdentity;
  /** `--new-bundle-format`: Sigstore bundle referrers (in the layout when nothing is pushed, else in each repository). */
  signBundle?: boolean;
  /** COSIGN_REPOSITORY: where each push keeps its signature, as `sign` keeps it. */
  signStoredIn?: RepositoryName;
  flags: RegistryFlags;
}

/**
 * The registries `--push` sends the image to: the ones --username and OCIPUSH_USERNAME/PASSWORD
 * are for while the build reads its base and cache (registryConnector). None without a push (a
 * build that only signs in its layout): then they are for the base's registry, as for pull.
 */
export function pushRegistries(pushes: BuildPushes | undefined): string[] | undefined {
  return pushes && pushes.to.length > 0 ? pushes.to.map((t) => t.reference.registry) : undefined;
}

/**
 * A build's base and layers on stderr, then its result: shared by `build` and `build -f`. With
 * `--push`, the pushes (as `push` makes them, lines and all) come between, and the result lists
 * them in `pushed`.
 */
export async function reportBuild(out: Output, result: BuiltImage, extra: Record<string, unknown> = {}, pushes?: BuildPushes): Promise<void> {
  describeBuild(out, result);
  // From here the image is in the layout: a signal no longer leaves the layout as it was.
  const { onInterrupt } = await import('./output.js');
  const built = `the image built is in ${result.layout} as ${result.tag} (${result.digest})`;
  if (pushes) await onInterrupt(out, 'build', built);
  let signatures: MadeSignature[] | undefined;
  if (pushes?.signer && (pushes.signInLayoutFor || (pushes.signBundle && pushes.to.length === 0))) {
    // Before the pushes, which then carry the signature as they carry any the layout holds.
    const { reportLayoutSignatures, signLayoutImage } = await import('./key-options.js');
    const target = { path: result.layout, name: result.digest, text: `oci:${result.layout}:${result.tag}` };
    signatures = await signLayoutImage(target, { signer: pushes.signer, ...(pushes.signInLayoutFor ? { identity: pushes.signInLayoutFor } : {}), ...(pushes.signBundle ? { bundle: true } : {}) });
    reportLayoutSignatures(out, target.text, pushes.signInLayoutFor, signatures);
  }
  const pushed = [];
  if (pushes) {
    const { pushLayoutImage } = await import('./push.js');
    // One image: signed once per repository, however many of its tags are pushed there.
    const signedIn = new Set<string>();
    for (const { text, reference } of pushes.to) {
      const repository = `${reference.registry}/${reference.repository}`;
      const signer = signedIn.has(repository) || signatures ? undefined : pushes.signer;
      const where = (await import('../oci/reference.js')).formatReference(reference);
      await onInterrupt(out, `push to ${where}`, built);
      try {
        pushed.push(await pushLayoutImage({
          to: text, destination: reference, layout: result.layout, tag: result.tag, alsoTags: [], mountFrom: [],
          concurrency: pushes.concurrency,
          ...(signer ? { signing: { signer, ...(pushes.signBundle ? { bundle: true } : {}), ...(pushes.signStoredIn ? { storedIn: pushes.signStoredIn } : {}) } } : {}),
        }, pushes.flags, out));
      } catch (err) {
        // The build is done and kept: the line says so, lest a registry that is down or refuses
        // read as a failed build, and names the push that sends it later.
        const { isOcipushError, OcipushError } = await import('../errors.js');
        if (!isOcipushError(err) || err.code === 'EABORTED') throw err;
        throw new OcipushError(err.code, `push to ${where}: ${err.message}; ${built}: ocipush push ${shellWord(text)} --layout ${shellWord(result.layout)} --tag ${result.tag} sends it`, err.details);
      }
      if (signer) signedIn.add(repository);
    }
  }
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
    ...(signatures ? { signatures } : {}),
    ...(pushes && pushes.to.length > 0 ? { pushed } : {}),
  });
}

function describeBuild(out: Output, result: BuiltImage): void {
  out.clearLive();
  if (result.base) out.info(`base ${result.base.reference} ${result.base.digest} (${result.base.layers} layer${result.base.layers === 1 ? '' : 's'})`);
  for (const [i, layer] of result.layers.entries()) {
    const createdBy = layer.createdBy ? `: ${layer.createdBy}` : '';
    const from = layer.source === 'registry-cache' ? ', from the registry cache' : layer.source === 'local-cache' ? ', from the layer cache' : '';
    out.info(`layer ${i + 1}/${result.layers.length} ${layer.digest} ${formatBytes(layer.size)} (${formatBytes(layer.uncompressedSize)} uncompressed${from})${createdBy}`);
  }
  if (result.sbom) {
    const base = result.sbom.base ? `; and ${count(result.sbom.base.packages, 'package')}, ${count(result.sbom.base.files, 'file')} from the base's own SBOM ${result.sbom.base.sbom}` : '';
    out.info(`sbom ${result.sbom.digest} (${result.sbom.format}: ${count(result.sbom.packages, 'package')}, ${count(result.sbom.files, 'file')}${base}), a referrer of the image`);
  }
  if (result.provenance) out.info(`provenance ${result.provenance.digest} (${result.provenance.predicateType}, signed), a referrer of the image`);
}

const PROGRESS_AFTER_MS = 300;
const PROGRESS_EVERY_MS = 100;

export interface ProgressOptions {
  /** Milliseconds now; Date.now by default (tests give their own clock). */
  now?: () => number;
  /** Off a terminal, the time between two progress lines of a layer. */
  logEveryMs?: number;
}

interface BuildProgressEvent { layer: number; layers: number; source: string; bytes: number; entries?: number; totalBytes?: number }

/**
 * A build's progress on stderr. On a terminal: a throttled line redrawn in place, for layers
 * that take a while. Elsewhere (CI logs): a line when each layer starts and a progress line every
 * `logEveryMs`, so a long build is never silent. Nothing with --quiet.
 */
export function progressReporter(out: Output, options: ProgressOptions = {}) {
  const now = options.now ?? Date.now;
  const logEvery = options.logEveryMs ?? LOG_PROGRESS_EVERY_MS;
  let layerStart = 0;
  let currentLayer = -1;
  let last = 0;
  const describe = (p: BuildProgressEvent, at: number): string => {
    const amount = p.totalBytes ? `${formatBytes(p.bytes)} / ${formatBytes(p.totalBytes)}` : formatBytes(p.bytes);
    const files = p.entries !== undefined ? `, ${p.entries} entries` : '';
    const rate = formatBytes(p.bytes / Math.max(0.001, (at - layerStart) / 1000));
    return `layer ${p.layer + 1}/${p.layers} ${p.source}: ${amount}${files} (${rate}/s)`;
  };
  return (p: BuildProgressEvent) => {
    if (out.quiet) return;
    const at = now();
    if (p.layer !== currentLayer) {
      currentLayer = p.layer;
      layerStart = at;
      last = at;
      if (!out.isTTY) out.info(`building layer ${p.layer + 1}/${p.layers} ${p.source}`);
      return;
    }
    if (!out.isTTY) {
      if (at - last < logEvery) return;
      last = at;
      out.info(describe(p, at));
      return;
    }
    if (at - layerStart < PROGRESS_AFTER_MS || at - last < PROGRESS_EVERY_MS) return;
    last = at;
    out.live(describe(p, at));
  };
}

/** A word as a shell takes it: quoted only when it holds more than a path's or a reference's characters. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
