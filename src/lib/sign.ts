import type { Reference } from '../oci/reference.js';
import type { SignatureRepositories } from '../supply-chain/signature-repository.js';
import type { SignedManifest, VerifiedSignature } from '../supply-chain/sign.js';
import type { Signer, Verifier } from '../supply-chain/signer.js';
import { libraryCall, type LibraryCall } from './errors.js';
import { abortWith, concurrencyOf, connectorBeside, repositoryOption, type RegistryOptions, type SignatureStore } from './options.js';

export interface SignOptions extends RegistryOptions, SignatureStore {
  /** The image to sign: `REGISTRY/REPO[:TAG|@DIGEST]` (or `docker://…`); its digest is what is signed. */
  image: string;
  /** `new KeySigner(await parsePrivateKey(…))`, or any Signer. */
  signer: Signer;
  /** Sign every manifest under an index too (cosign sign --recursive). */
  recursive?: boolean;
  /** Claims of the payload's `optional` section (cosign sign -a K=V). */
  annotations?: Record<string, string>;
  /** The repository (or several: one signature each) the payload names, instead of the image's (cosign's --sign-container-identity). */
  identity?: string | string[];
}

export interface SignResult {
  /** The digest `image` resolved to. */
  digest: string;
  /** One for each manifest and identity, stored at `sha256-<hex>.sig` as cosign stores it (`appended` false: this key had signed it so already). */
  signatures: SignedManifest[];
}

export interface VerifyOptions extends RegistryOptions, SignatureStore {
  /** The image whose current digest must be signed: `REGISTRY/REPO[:TAG|@DIGEST]`. */
  image: string;
  /** `new KeyVerifier(createPublicKey(pem))`, or any Verifier. */
  verifier: Verifier;
  /** Claims the payload must hold (cosign verify -a K=V). */
  annotations?: Record<string, string>;
}

export interface VerifyResult {
  digest: string;
  /** The signatures by the key over a payload for this digest: cosign's `.sig`, its OCI 1.1 signature referrers and Sigstore bundles. */
  verified: VerifiedSignature[];
}

const SIGN: LibraryCall<SignOptions> = {
  name: 'sign',
  required: { image: 'the image to sign (REGISTRY/REPO[:TAG|@DIGEST])' },
  strings: ['signatureRepository'],
  booleans: ['recursive'],
  records: ['annotations'],
  oneOrList: ['identity'],
  what: (o) => `sign ${o.image}`,
};

const VERIFY: LibraryCall<VerifyOptions> = {
  name: 'verify',
  required: { image: 'the image to verify (REGISTRY/REPO[:TAG|@DIGEST])' },
  strings: ['signatureRepository'],
  records: ['annotations'],
  what: (o) => `verify ${o.image}`,
};

/**
 * `ocipush sign` in a registry: the simple-signing payload of the image's digest, signed and
 * stored as cosign stores a key-based signature (`sha256-<hex>.sig`, after those already there),
 * which `cosign verify`, skopeo 1.12+ and `verify` read.
 */
export function sign(options: SignOptions): Promise<SignResult> {
  return libraryCall(SIGN, options, async (options) => {
    const { OcipushError } = await import('../errors.js');
    if (typeof options.signer?.sign !== 'function') throw new OcipushError('EUSAGE', 'sign: `signer` is missing: a KeySigner (new KeySigner(await parsePrivateKey(…))) or any object with sign()');
    const image = await imageReference(options.image, 'image');
    const identities = options.identity === undefined ? [image] : await Promise.all([options.identity].flat().map((text) => repositoryOption(text, 'identity')));
    const { referenceTarget } = await import('../oci/reference.js');
    const { signImage } = await import('../supply-chain/sign.js');
    const signatures = await withRepositories(image, options, ({ image: repo, signatures }) => signImage(signatures, identities, referenceTarget(image), options.signer, {
      concurrency: concurrencyOf(options), from: repo,
      ...(options.recursive ? { recursive: true } : {}),
      ...(options.annotations ? { annotations: options.annotations } : {}),
    }));
    return { digest: signatures[0]!.digest, signatures };
  });
}

/**
 * `ocipush verify` in a registry: resolves when a signature by the verifier's key over a payload
 * for the image's current digest is there (whoever made it: ocipush, cosign, skopeo); rejects
 * with EINVALID naming why not (no signature, another key, another image, a claim missing).
 */
export function verify(options: VerifyOptions): Promise<VerifyResult> {
  return libraryCall(VERIFY, options, async (options) => {
    const { OcipushError } = await import('../errors.js');
    if (typeof options.verifier?.verify !== 'function') throw new OcipushError('EUSAGE', 'verify: `verifier` is missing: a KeyVerifier (new KeyVerifier(createPublicKey(pem))) or any object with verify()');
    const image = await imageReference(options.image, 'image');
    const { referenceTarget } = await import('../oci/reference.js');
    const [{ unverifiedReason, verifyImage }, { registryReferrerEnvelopes }] = await Promise.all([import('../supply-chain/sign.js'), import('../supply-chain/registry-attestations.js')]);
    const { outcome, where } = await withRepositories(image, options, async ({ image: repo, signatures, signaturesClient }) => {
      const subject = await repo.resolveToRead(referenceTarget(image));
      return {
        outcome: await verifyImage(signatures, subject.digest, options.verifier, options.annotations ?? {}, {
          found: registryReferrerEnvelopes(signaturesClient, signatures, subject), identity: `${image.registry}/${image.repository}`,
        }),
        where: signatures === repo ? '' : ` in ${options.signatureRepository}`,
      };
    });
    if (outcome.verified.length === 0) {
      const why = unverifiedReason(outcome, 'signature', where);
      throw new OcipushError('EINVALID', `verify ${image.registry}/${image.repository}@${outcome.digest}: ${why}`, { digest: outcome.digest, rejected: outcome.rejected });
    }
    return { digest: outcome.digest, verified: outcome.verified };
  });
}

async function imageReference(text: string, option: string): Promise<Reference> {
  const [{ parseTransport }, { OcipushError }] = await Promise.all([import('../transports/parse.js'), import('../errors.js')]);
  const location = parseTransport(text);
  if (location.transport !== 'registry') throw new OcipushError('EUSAGE', `\`${option}\` ${text}: expected a registry reference (REGISTRY/REPO[:TAG|@DIGEST]); signatures in a layout are the CLI's sign and verify`);
  return location.reference;
}

/** The image's repository and the one its signatures are kept in (the same, or `signatureRepository`'s, on its own client when on another registry). */
async function withRepositories<T>(
  image: Reference, options: RegistryOptions & SignatureStore,
  work: (repos: SignatureRepositories) => Promise<T>,
): Promise<T> {
  const other = options.signatureRepository === undefined ? undefined : await repositoryOption(options.signatureRepository, 'signatureRepository');
  const unhooks: (() => void)[] = [];
  // OCIPUSH_USERNAME/PASSWORD are the image registry's: never sent to the signatures' other host.
  const reach = connectorBeside(options, image.registry);
  const connect = async (registry: string) => {
    const client = await reach(registry);
    unhooks.push(abortWith(options.signal, client));
    return client;
  };
  const { withSignatureRepositories } = await import('../supply-chain/signature-repository.js');
  try {
    return await withSignatureRepositories(image, other, connect, work);
  } finally {
    for (const unhook of unhooks) unhook();
  }
}
