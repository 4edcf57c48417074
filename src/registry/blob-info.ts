import { OcipushError } from '../errors.js';
import type { Digest } from '../oci/digest.js';
import type { RegistryClient } from './http.js';
import { pullScope, v2Path } from './scopes.js';

/** `HEAD /v2/<name>/blobs/<digest>`: the blob's size, ENOTFOUND when the repository lacks it. */
export async function blobSize(client: RegistryClient, repository: string, digest: Digest): Promise<number> {
  const res = await client.request({
    method: 'HEAD',
    url: v2Path(repository, `blobs/${digest}`),
    op: `check blob ${digest}`,
    scopes: [pullScope(repository)],
    accept: (s) => s === 200 || s === 404,
  });
  await res.dump();
  if (res.status === 404) throw new OcipushError('ENOTFOUND', `${client.registry}/${repository}@${digest}: blob not found`);
  const size = Number(res.header('content-length'));
  if (!Number.isSafeInteger(size) || size < 0) throw new OcipushError('EREGISTRY', `${client.registry}/${repository}@${digest}: the registry gave no size for the blob`);
  return size;
}
