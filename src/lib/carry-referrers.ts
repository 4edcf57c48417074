import type { RegistryClient } from '../registry/http.js';
import type { Repository } from '../registry/repository.js';
import type { RepositoryName } from '../supply-chain/signature-repository.js';

/** One half under COSIGN_REPOSITORY: the signed referrers (and cosign's tags), or the others (an SBOM). */
export interface ReferrerHalf { signed: boolean; holds: (artifactType: string | undefined) => boolean }

/**
 * A layout's referrers carried into a registry, by push and by copy: all beside the image in one
 * `send`, or under cosign's COSIGN_REPOSITORY (`signaturesIn`) the signed half there, as `cosign
 * load` writes it, marked `storedIn`, and the others beside the image, both at once. `after`
 * follows with where the signatures went and what went there (a provenance appended to `.att`).
 */
export async function carryReferrers<T extends { storedIn?: string }>(p: {
  image: Repository;
  signaturesIn?: RepositoryName | undefined;
  connectSignatures?: ((registry: string) => Promise<RegistryClient>) | undefined;
  send: (to: Repository, half?: ReferrerHalf) => Promise<T[]>;
  after?: (signatures: Repository, sent: T[]) => Promise<void>;
}): Promise<T[]> {
  const image = { registry: p.image.registry, repository: p.image.name };
  const at = p.signaturesIn;
  // Checked here, not left to withSignatureRepositories: it opens a Repository of its own even
  // for the image's repository, which would split what has nowhere else to go.
  if (!at || !p.connectSignatures || (at.registry === image.registry && at.repository === image.repository)) {
    const sent = await p.send(p.image);
    await p.after?.(p.image, sent);
    return sent;
  }
  const [{ withSignatureRepositories }, { signedReferrerKind }] = await Promise.all([
    import('../supply-chain/signature-repository.js'), import('../supply-chain/referrer-signatures.js'),
  ]);
  const signed = (artifactType: string | undefined) => signedReferrerKind(artifactType) !== undefined;
  return withSignatureRepositories(image, at, p.connectSignatures, async ({ signatures }) => {
    const [own, theirs] = await settled([
      p.send(p.image, { signed: false, holds: (t) => !signed(t) }),
      p.send(signatures, { signed: true, holds: signed }),
    ]);
    await p.after?.(signatures, theirs);
    const storedIn = `${signatures.registry}/${signatures.name}`;
    return [...own, ...theirs.map((r) => ({ ...r, storedIn }))];
  }, p.image.client);
}

/** Every one of `pieces` ended, then their values, or the first failure: nothing goes on writing after it is reported. */
export async function settled<T>(pieces: Promise<T>[]): Promise<T[]> {
  const results = await Promise.allSettled(pieces);
  for (const result of results) if (result.status === 'rejected') throw result.reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}
