import { digestHex, type Digest } from '../oci/digest.js';

export const SLSA_PROVENANCE_V1 = 'https://slsa.dev/provenance/v1';
/** The build type ocipush's own builds declare (what externalParameters mean is defined by it). */
export const OCIPUSH_BUILD_TYPE = 'https://ocipush.dev/build/v1';

export interface ProvenanceInput {
  /** The command's flags as given (never secrets: the caller leaves out passwords and keys). */
  externalParameters: Record<string, unknown>;
  /** The base image by digest, when there is one. */
  base?: { uri: string; digest: Digest };
  /** The other images the build read (a stage's FROM, COPY --from=IMAGE), by digest. */
  images?: { uri: string; digest: Digest }[];
  /** The build context (a directory or tar) by the digest of what was read from it. */
  context?: { uri: string; digest: Digest };
  /** The Dockerfile, by digest, for `build -f`. */
  dockerfile?: { uri: string; digest: Digest };
  builderId: string;
  builderVersion?: string;
  /** RFC 3339; injected so builds stay reproducible (--created / SOURCE_DATE_EPOCH). */
  startedOn?: string;
  finishedOn?: string;
  invocationId?: string;
}

/**
 * A SLSA Provenance v1 predicate: buildDefinition (build type, external parameters, resolved
 * dependencies by digest) and runDetails (builder id, times). Sign it with attestImage and
 * SLSA_PROVENANCE_V1 as the predicate type; `build --provenance` is meant to call this with the
 * digests it already knows.
 */
export function slsaProvenance(input: ProvenanceInput): Record<string, unknown> {
  const dep = (d: { uri: string; digest: Digest }) => ({ uri: d.uri, digest: { sha256: digestHex(d.digest) } });
  const resolvedDependencies = [input.base, ...(input.images ?? []), input.context, input.dockerfile].filter((d): d is { uri: string; digest: Digest } => d !== undefined).map(dep);
  const metadata = {
    ...(input.invocationId ? { invocationId: input.invocationId } : {}),
    ...(input.startedOn ? { startedOn: input.startedOn } : {}),
    ...(input.finishedOn ? { finishedOn: input.finishedOn } : {}),
  };
  return {
    buildDefinition: {
      buildType: OCIPUSH_BUILD_TYPE,
      externalParameters: input.externalParameters,
      ...(resolvedDependencies.length > 0 ? { resolvedDependencies } : {}),
    },
    runDetails: {
      builder: { id: input.builderId, ...(input.builderVersion ? { version: { ocipush: input.builderVersion } } : {}) },
      ...(Object.keys(metadata).length > 0 ? { metadata } : {}),
    },
  };
}
