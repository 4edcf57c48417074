import { OcipushError } from '../errors.js';
import type { Reference } from '../oci/reference.js';
import type { RepositoryName, SignatureRepositories } from '../supply-chain/signature-repository.js';
import { registryConnector, type RegistryFlags } from './registry-options.js';

export type { RepositoryName } from '../supply-chain/signature-repository.js';

/**
 * cosign's COSIGN_REPOSITORY: the repository its signatures, attestations and their referrers are
 * kept in instead of the image's (`sha256-<hex>.sig` there, named by the image's digest), read
 * as go-containerregistry's name.NewRepository reads it: `sigs` alone is Docker Hub's
 * library/sigs. Unset or empty, the image's own (a CI template may leave it empty).
 */
export async function cosignRepository(): Promise<RepositoryName | undefined> {
  const text = process.env.COSIGN_REPOSITORY;
  if (text === undefined || text === '') return undefined;
  const { parseReference } = await import('../oci/reference.js');
  let ref;
  try {
    ref = parseReference(text);
  } catch (err) {
    throw new OcipushError('EUSAGE', `COSIGN_REPOSITORY=${text}: ${(err as Error).message.replace(/^invalid image reference "[^"]*": /, 'not a repository: ')}`);
  }
  if (ref.tag !== undefined || ref.digest !== undefined) throw new OcipushError('EUSAGE', `COSIGN_REPOSITORY=${text}: a repository, without a tag or digest (the signatures are tagged there by the image's digest)`);
  return { registry: ref.registry, repository: ref.repository };
}

/** Where the signatures of an image in `source`'s repository are kept, for messages: `REGISTRY/REPOSITORY`. */
export function repositoryText(name: RepositoryName): string {
  return `${name.registry}/${name.repository}`;
}

/**
 * Runs `work` with the image's repository and the one its signatures are kept in: the same one,
 * or COSIGN_REPOSITORY's (through a client of its own when it is on another registry: the same
 * TLS flags, and that registry's own login from the Docker config; --username/--password-stdin
 * and OCIPUSH_USERNAME/PASSWORD are the image registry's, never sent to another host).
 */
export async function withSignatureRepository<T>(
  source: Reference, flags: RegistryFlags,
  work: (repos: SignatureRepositories) => Promise<T>,
): Promise<T> {
  const { withSignatureRepositories } = await import('../supply-chain/signature-repository.js');
  return withSignatureRepositories(source, await cosignRepository(), registryConnector(flags, [source.registry]), work);
}
