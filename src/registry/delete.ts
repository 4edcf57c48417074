import { OcipushError } from '../errors.js';
import type { Digest } from '../oci/digest.js';
import type { RegistryClient } from './http.js';
import { v2Path } from './scopes.js';

/**
 * `DELETE /v2/<name>/manifests/<digest>`. Registries delete manifests by digest only (a tag is
 * resolved first by the caller). distribution answers 405 UNSUPPORTED when deletes are disabled in
 * its configuration: that is said in one line, as is a refusal (no `delete` permission).
 */
export async function deleteManifest(client: RegistryClient, repository: string, digest: Digest): Promise<void> {
  const where = `${client.registry}/${repository}@${digest}`;
  let res;
  try {
    res = await client.request({
      method: 'DELETE',
      url: v2Path(repository, `manifests/${digest}`),
      op: `delete manifest ${repository}@${digest}`,
      scopes: [`repository:${repository}:delete`],
      accept: (s) => s === 202 || s === 200 || s === 204 || s === 404 || s === 405,
    });
  } catch (err) {
    if (err instanceof OcipushError && err.code === 'EAUTH') {
      throw new OcipushError('EAUTH', `${where}: no permission to delete (${err.message})`, err.details);
    }
    throw err;
  }
  await res.dump();
  if (res.status === 404) throw new OcipushError('ENOTFOUND', `${where}: manifest not found`);
  if (res.status === 405) throw new OcipushError('EUNSUPPORTED', `${where}: the registry does not allow deletes (405; distribution needs storage.delete.enabled)`);
}
