import type { Digest } from '../oci/digest.js';
import type { Descriptor } from '../oci/descriptor.js';
import type { OciLayout } from '../content/layout.js';
import { layoutReferrers, storeLayoutReferrer } from '../content/layout-referrers.js';
import { IN_TOTO_PAYLOAD_TYPE, makeStatement, PREDICATE_TYPE_ANNOTATION, signEnvelope, type Envelope, type Statement } from '../supply-chain/attest.js';
import { DSSE_MEDIA_TYPE } from '../oci/media-types.js';
import { SLSA_PROVENANCE_V1, slsaProvenance } from '../supply-chain/provenance.js';
import type { Signer } from '../supply-chain/signer.js';
import { VERSION } from '../version.js';

const BUILDER_ID = 'https://ocipush.dev/builder/cli';

/** What `build --provenance` records: who signs, what the command was, and the clock. */
export interface ProvenanceOptions {
  signer: Signer;
  /** The build's external parameters (its flags and inputs), as given. */
  externalParameters: Record<string, unknown>;
  /** The wall clock for `startedOn` / `finishedOn` (injected in tests). */
  now?: () => Date;
}

export interface BuiltProvenance {
  /** The referrer manifest holding the DSSE envelope. */
  digest: Digest;
  predicateType: string;
}

/**
 * A SLSA Provenance v1 predicate about the image just built — the build type, the command's
 * parameters, the base image and the layers' content by digest, the builder and the times — in an
 * in-toto Statement v1 signed in a DSSE envelope, stored in the layout as the image's referrer.
 * `push` carries it, and also appends it to `sha256-<hex>.att` as cosign stores attestations.
 */
export async function storeBuildProvenance(
  layout: OciLayout, image: Descriptor, name: string, options: ProvenanceOptions,
  inputs: { startedOn: Date; base?: { uri: string; digest: Digest }; dockerfile?: { uri: string; digest: Digest }; images?: { uri: string; digest: Digest }[]; layers: { uri: string; digest: Digest }[] },
): Promise<BuiltProvenance> {
  const now = options.now ?? (() => new Date());
  const predicate = slsaProvenance({
    externalParameters: { ...options.externalParameters, layers: inputs.layers },
    ...(inputs.base ? { base: inputs.base } : {}),
    // The build context is what was layered: the top layer's tar, by its diff_id.
    ...(inputs.layers.length > 0 ? { context: inputs.layers.at(-1)! } : {}),
    ...(inputs.dockerfile ? { dockerfile: inputs.dockerfile } : {}),
    ...(inputs.images?.length ? { images: inputs.images } : {}),
    builderId: BUILDER_ID,
    builderVersion: VERSION,
    startedOn: inputs.startedOn.toISOString(),
    finishedOn: now().toISOString(),
  });
  const statement = makeStatement(name, image.digest, SLSA_PROVENANCE_V1, predicate);
  const envelope = await signEnvelope(options.signer, IN_TOTO_PAYLOAD_TYPE, statement);
  const annotations = { [PREDICATE_TYPE_ANNOTATION]: SLSA_PROVENANCE_V1 };
  const entry = await storeLayoutReferrer(layout, image, DSSE_MEDIA_TYPE, [{ mediaType: DSSE_MEDIA_TYPE, bytes: envelope, annotations }], annotations);
  await dropEarlierBuildProvenance(layout, image, entry.digest);
  return { digest: entry.digest, predicateType: SLSA_PROVENANCE_V1 };
}

/**
 * A rebuild of the same image (a reproducible build, a CI run again) replaces the provenance an
 * earlier build here wrote for it, as a rebuilt tag's SBOM replaces the old one, instead of
 * piling one more on each run, which every push then carries to `.att`. Only ocipush's own
 * builds' provenance goes: an attestation made with `attest` stays.
 */
async function dropEarlierBuildProvenance(layout: OciLayout, image: Descriptor, keep: Digest): Promise<void> {
  const earlier = new Set<string>();
  for (const { descriptor, manifest } of await layoutReferrers(layout, image)) {
    const [layer] = manifest.layers;
    if (descriptor.digest === keep || manifest.artifactType !== DSSE_MEDIA_TYPE || manifest.layers.length !== 1 || layer?.annotations?.[PREDICATE_TYPE_ANNOTATION] !== SLSA_PROVENANCE_V1) continue;
    try {
      const statement = JSON.parse(Buffer.from((JSON.parse((await layout.readBlob(layer)).toString('utf8')) as Envelope).payload, 'base64').toString('utf8')) as Statement;
      const predicate = statement.predicate as { runDetails?: { builder?: { id?: unknown } } } | undefined;
      if (statement.predicateType === SLSA_PROVENANCE_V1 && predicate?.runDetails?.builder?.id === BUILDER_ID) earlier.add(descriptor.digest);
    } catch {
      // Not an envelope this builder wrote: kept.
    }
  }
  if (earlier.size > 0) await layout.updateIndex((index) => ({ ...index, manifests: index.manifests.filter((m) => !earlier.has(m.digest)) }));
}
