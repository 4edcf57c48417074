import { OcipushError } from '../errors.js';
import type { Digest } from '../oci/digest.js';
import type { RegistryClient } from './http.js';
import { v2Path } from './scopes.js';

/**
 * `DELETE /v2/<name>/manifests/<digest>`. Registries delete manifests by digest only (a tag is
 * resolved first by the caller). A registry with deletes disabled answers 405 (distribution, with
 * UNSUPPORTED) or, as the distribution spec also allows, 400 UNSUPPORTED: either is said in one
 * line with the one code EUNSUPPORTED, as is a refusal (no `delete` permission) with EAUTH.
 */
export async function deleteManifest(client: RegistryClient, repository: string, digest: Digest): Promise<void> {
  const where = `${client.registry}/${repository}@${digest}`;
  const op = `delete manifest ${repository}@${digest}`;
  let res;
  try {
    res = await client.request({
      method: 'DELETE',
      url: v2Path(repository, `manifests/${digest}`),
      op,
      scopes: [`repository:${repository}:delete`],
      accept: (s) => s === 202 || s === 200 || s === 204 || s === 404 || s === 405,
    });
  } catch (err) {
    if (err instanceof OcipushError && err.code === 'EAUTH') {
      throw new OcipushError('EAUTH', `${where}: no permission to delete (${err.message})`, err.details);
    }
    // Another 400 (a tag still naming the manifest, as Artifact Registry answers) is the registry's own line.
    if (err instanceof OcipushError && err.details.status === 400 && (err.details.registryCodes as string[] | undefined)?.includes('UNSUPPORTED')) {
      const said = err.message.startsWith(`${client.registry}: ${op}: `) ? err.message.slice(`${client.registry}: ${op}: `.length) : '400 UNSUPPORTED';
      throw new OcipushError('EUNSUPPORTED', `${where}: the registry does not allow deletes (${said})`, err.details);
    }
    throw err;
  }
  await res.dump();
  if (res.status === 404) throw new OcipushError('ENOTFOUND', `${where}: manifest not found`);
  if (res.status === 405) throw new OcipushError('EUNSUPPORTED', `${where}: the registry does not allow deletes (405; distribution needs storage.delete.enabled)`);
}
