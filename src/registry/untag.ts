import { Readable } from 'node:stream';
import { OcipushError } from '../errors.js';
import { sha256 } from '../oci/digest.js';
import type { Descriptor } from '../oci/descriptor.js';
import { MediaType } from '../oci/media-types.js';
import { deleteManifest } from './delete.js';
import type { Repository } from './repository.js';
import { v2Path } from './scopes.js';

/** How the tag went: the registry deleted it (OCI 1.1's tag delete), or a placeholder took it away. */
export type UntagMethod = 'tag-delete' | 'placeholder';

/**
 * Takes one tag away and leaves the manifest it named (reachable by digest and its other tags), as
 * regctl's `tag delete` does. A registry that deletes tags (`DELETE /v2/<name>/manifests/<tag>`,
 * in the distribution spec since 1.1) is asked that first; distribution 2.8 and most others only
 * delete manifests by digest, which takes every tag on the manifest with it. There the tag is
 * first pointed at a placeholder manifest of its own (a config naming the tag, no layers), which is
 * then deleted by digest: only that tag goes with it.
 */
export async function untagInRegistry(repository: Repository, tag: string): Promise<{ untagged: Descriptor; method: UntagMethod }> {
  const client = repository.client;
  const name = repository.repositoryName;
  // Resolved first: a tag that is not there is said so, and nothing is sent.
  const untagged = await repository.resolve(tag);
  const res = await client.request({
    method: 'DELETE',
    url: v2Path(name, `manifests/${tag}`),
    op: `delete tag ${name}:${tag}`,
    scopes: [`repository:${name}:delete`],
    // distribution 2.8 answers 400 DIGEST_INVALID; others 404, 405 or 501: then the placeholder.
    accept: (s) => s === 202 || s === 200 || s === 204 || s === 400 || s === 404 || s === 405 || s === 501,
  }).catch((err: unknown) => {
    // Without delete rights neither way can take the tag away.
    if (err instanceof OcipushError && err.code === 'EAUTH') {
      throw new OcipushError('EAUTH', `${client.registry}/${name}:${tag}: no permission to delete (${err.message})`, err.details);
    }
    throw err;
  });
  await res.dump();
  // 202 is the spec's answer to a delete done (regctl trusts no other). Another 2xx may come from
  // something in front of the registry that did nothing (a login wall, a proxy answering every
  // DELETE): the tag is asked for again, and one still there goes by the placeholder.
  if (res.status === 202 || (res.status >= 200 && res.status < 300 && await tagGone(repository, tag))) return { untagged, method: 'tag-delete' };

  const placeholder = placeholderFor(name, tag, untagged.mediaType);
  // Deleting the placeholder before it exists asks whether deletes are allowed at all: a registry
  // that refuses them (405, UNSUPPORTED, no permission) is then said so with the tag untouched,
  // never left on the placeholder. (One an interrupted run left is taken away by it.)
  await deleteManifest(client, name, placeholder.manifest.digest).catch((err: unknown) => {
    if (!(err instanceof OcipushError && err.code === 'ENOTFOUND')) throw err;
  });
  await repository.push(placeholder.config, Readable.from([placeholder.configBytes]));
  await repository.pushManifest(placeholder.manifest, placeholder.manifestBytes, tag);
  await deleteManifest(client, name, placeholder.manifest.digest).catch((err: unknown) => {
    // Another untag of the same tag deleted it first: the tag is gone either way.
    if (!(err instanceof OcipushError && err.code === 'ENOTFOUND')) throw err;
  });
  return { untagged, method: 'placeholder' };
}

/** Whether the registry no longer resolves the tag. */
async function tagGone(repository: Repository, tag: string): Promise<boolean> {
  return repository.resolve(tag).then(() => false, (err: unknown) => {
    if (err instanceof OcipushError && err.code === 'ENOTFOUND') return true;
    throw err;
  });
}

/**
 * A manifest no other tag can point at (its config names the repository and tag), of the family
 * of the manifest the tag named: a registry that takes only Docker types is given Docker types.
 */
function placeholderFor(repository: string, tag: string, mediaType: string): { config: Descriptor; configBytes: Buffer; manifest: Descriptor; manifestBytes: Buffer } {
  const docker = mediaType === MediaType.DockerManifest || mediaType === MediaType.DockerManifestList || mediaType.startsWith('application/vnd.docker.distribution.manifest.v1');
  const configBytes = Buffer.from(JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    config: { Labels: { 'delete-tag': `${repository}:${tag}` } },
    rootfs: { type: 'layers', diff_ids: [] },
  }));
  const config: Descriptor = { mediaType: docker ? MediaType.DockerConfig : MediaType.OciConfig, digest: sha256(configBytes), size: configBytes.length };
  const manifestMediaType = docker ? MediaType.DockerManifest : MediaType.OciManifest;
  const manifestBytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: manifestMediaType, config, layers: [] }));
  return { config, configBytes, manifest: { mediaType: manifestMediaType, digest: sha256(manifestBytes), size: manifestBytes.length }, manifestBytes };
}
