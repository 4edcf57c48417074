import type { RegistryClient } from '../registry/http.js';
import type { Repository } from '../registry/repository.js';

/** A repository, on its registry. */
export interface RepositoryName { registry: string; repository: string }

/** The image's repository, and the one its signatures and attestations are kept in (`storedIn`). */
export interface SignatureRepositories {
  image: Repository;
  signatures: Repository;
  signaturesClient: RegistryClient;
  storedIn: RepositoryName;
}

/**
 * Runs `work` with the image's repository and the one its signatures are kept in: the same one,
 * or `other` (cosign's COSIGN_REPOSITORY), through a client of its own when it is on another
 * registry. Every client `connect` made is closed after, torn down on failure; `shared`, the
 * client a verb already has for the image's registry (push --sign's), is used and left to it.
 */
export async function withSignatureRepositories<T>(
  image: RepositoryName, other: RepositoryName | undefined, connect: (registry: string) => Promise<RegistryClient>,
  work: (repos: SignatureRepositories) => Promise<T>, shared?: RegistryClient,
): Promise<T> {
  const { Repository } = await import('../registry/repository.js');
  const clients: RegistryClient[] = [];
  const open = async (registry: string) => {
    const client = await connect(registry);
    clients.push(client);
    return client;
  };
  try {
    const client = shared ?? await open(image.registry);
    const repo = new Repository(client, image.repository);
    const signaturesClient = other && other.registry !== image.registry ? await open(other.registry) : client;
    const signatures = other ? new Repository(signaturesClient, other.repository) : repo;
    const result = await work({ image: repo, signatures, signaturesClient, storedIn: other ?? image });
    await Promise.all(clients.map((c) => c.close()));
    return result;
  } catch (err) {
    await Promise.all(clients.map((c) => c.destroy()));
    throw err;
  }
}
