import { OcipushError } from '../errors.js';
import { digestAlgorithm, hexDigestOf, isDigest, type Digest } from '../oci/digest.js';
import type { RegistryClient, RegistryResponse } from './http.js';
import { pullScope, v2Path } from './scopes.js';

/**
 * The size a HEAD answer gives, or undefined when it gives none to trust: no Content-Length, or
 * 0 for content that cannot be empty (a manifest, a blob whose digest is not that of no bytes).
 * A reverse proxy that mishandles HEAD sends 0 there (godoxy did, over HTTP/2); a registry never does.
 */
export function headLength(res: RegistryResponse, digest: string | undefined): number | undefined {
  const text = res.header('content-length');
  const size = text === undefined || text.trim() === '' ? Number.NaN : Number(text);
  if (!Number.isSafeInteger(size) || size < 0) return undefined;
  if (size === 0 && !(digest !== undefined && isDigest(digest) && isEmptyContent(digest))) return undefined;
  return size;
}

function isEmptyContent(digest: Digest): boolean {
  try { return hexDigestOf(digestAlgorithm(digest), '') === digest.slice(digest.indexOf(':') + 1); } catch { return false; }
}

/**
 * `HEAD /v2/<name>/blobs/<digest>`: the blob's size, ENOTFOUND when the repository lacks it. A
 * HEAD that gives no size (see headLength) is followed by a GET of the first byte, whose
 * Content-Range (or, from a registry that ignores Range, Content-Length) says it; the body is let go.
 */
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
  const size = headLength(res, digest) ?? await sizeByGet(client, repository, digest);
  if (size === undefined) throw new OcipushError('EREGISTRY', `${client.registry}/${repository}@${digest}: the registry gave no size for the blob`);
  return size;
}

async function sizeByGet(client: RegistryClient, repository: string, digest: Digest): Promise<number | undefined> {
  const res = await client.request({
    method: 'GET',
    url: v2Path(repository, `blobs/${digest}`),
    op: `check blob ${digest} (its first byte, for its size)`,
    scopes: [pullScope(repository)],
    headers: { range: 'bytes=0-0' },
    accept: (s) => s === 200 || s === 206 || s === 404 || s === 416,
  });
  // One byte, or (Range ignored) the start of the blob until the connection is let go.
  await res.dump();
  if (res.status === 404) throw new OcipushError('ENOTFOUND', `${client.registry}/${repository}@${digest}: blob not found`);
  // An empty blob has no first byte: 416, `Content-Range: bytes */0`.
  const total = res.status === 206 || res.status === 416 ? /\/(\d+)\s*$/.exec(res.header('content-range') ?? '')?.[1] : res.header('content-length');
  const size = total === undefined ? Number.NaN : Number(total);
  return Number.isSafeInteger(size) && size >= 0 ? size : undefined;
}
