import { Readable } from 'node:stream';
import { OcipushError } from '../errors.js';
import type { Descriptor } from '../oci/descriptor.js';
import { digestAlgorithm } from '../oci/digest.js';
import { ChunkVerifier } from '../content/verify.js';
import type { RegistryClient, RegistryResponse, RequestTiming } from './http.js';
import { isTransientNetworkError, networkError, networkErrorCode, networkReason } from './errors.js';
import { abortedError } from './cancel.js';
import { pullScope, pushScope, v2Path } from './scopes.js';
import { headLength } from './blob-info.js';

/** An upload session the registry opened: where to send the next request. */
export interface UploadSession {
  location: URL;
  /** `OCI-Chunk-Min-Length`: the registry wants chunks at least this large. */
  minChunkLength?: number;
}


/** `HEAD /v2/<name>/blobs/<digest>`: whether the repository has the blob (and with the expected size). */
export async function blobExists(client: RegistryClient, repository: string, desc: Pick<Descriptor, 'digest' | 'size'>, timing: RequestTiming = {}, scope = pullScope(repository)): Promise<boolean> {
  const res = await client.request({
    ...timing,
    method: 'HEAD',
    url: v2Path(repository, `blobs/${desc.digest}`),
    op: `check blob ${desc.digest}`,
    scopes: [scope],
    accept: (s) => s === 200 || s === 404,
  });
  await res.dump();
  if (res.status === 404) return false;
  // A proxy's HEAD that gives no size to trust leaves the registry's 200 standing, as crane reads it.
  const length = headLength(res, desc.digest);
  if (length !== undefined && length !== desc.size && desc.size >= 0) {
    throw new OcipushError('EDIGEST', `${client.registry}: blob ${desc.digest} in ${repository} has ${length} bytes, expected ${desc.size}`, { digest: desc.digest });
  }
  return true;
}

/**
 * `GET /v2/<name>/blobs/<digest>`: a stream that fails (EDIGEST) unless the bytes match the
 * descriptor. Nothing is read before the consumer reads, so a failure (even of a blob that fits
 * in one chunk) reaches the consumer's handlers, never an unhandled 'error' event. A connection
 * that breaks mid-blob is resumed from the byte where it broke (Range), with the client's retry
 * policy; the whole blob is verified, however many requests brought it.
 */
export async function fetchBlob(client: RegistryClient, repository: string, desc: Pick<Descriptor, 'digest' | 'size'>, timing: RequestTiming = {}): Promise<Readable> {
  const what = `${client.registry}/${repository}: blob ${desc.digest}`;
  const op = `fetch blob ${desc.digest}`;
  const request = (from: number) => client.request({
    ...timing,
    method: 'GET',
    url: v2Path(repository, `blobs/${desc.digest}`),
    op,
    scopes: [pullScope(repository)],
    ...(from > 0 ? { headers: { range: `bytes=${from}-` } } : {}),
  });
  const first = await request(0);
  const reopen = async (received: number, attempt: number): Promise<Readable | undefined> => {
    if (!await client.retryWait(op, attempt, undefined, `connection broke at byte ${received}`, timing)) return undefined;
    const res = await request(received);
    // A registry (or the storage behind its redirect) that ignores Range sends the whole blob again.
    if (res.status !== 206) return skipBytes(res.body, received);
    if (rangeStart(res) === received) return res.body;
    // A 206 from another byte (a cache or storage in front answering its own range) would splice
    // the wrong bytes in, and the digest check then blame the registry's content: ask for it whole.
    res.body.on('error', () => {}).destroy();
    return skipBytes((await request(0)).body, received);
  };
  const chunks = resumeOnBreak(first.body, desc.size, reopen, client.retryPolicy.retries, what);
  const failure = (err: unknown) => {
    if (timing.signal?.aborted) return abortedError(client.registry, op);
    return err instanceof OcipushError ? err : networkError(client.registry, err);
  };
  const stream = Readable.from(verified(chunks, desc, what, failure), { objectMode: false, highWaterMark: 1 });
  // Let go before its first read (a layout that cannot take it), the generators above never start
  // and their finally never frees the response: it would hold its connection, and close() wait for ever.
  // undici's body, destroyed before its end, emits an abort error nobody reads: without a listener
  // it would end the process (a copy that fails on one child drops the blobs it fetched for the others).
  stream.once('close', () => first.body.on('error', () => {}).destroy());
  return stream;
}

/**
 * Bytes `start`..`end` (inclusive) of a blob, as a chunked upload of a copy between registries
 * reads them: `GET` with `Range`, so each chunk costs its own bytes, not the blob up to its end.
 * A registry (or its storage) that ignores Range answers 200 with the whole blob: the bytes
 * before `start` are skipped and the rest let go. A 206 that does not carry the range asked for
 * (a cache in front answering its own) is treated the same: the blob is asked for whole. A break
 * resumes from the byte it reached. A range cannot be checked against the digest: the
 * destination checks the whole at its PUT.
 */
export async function fetchBlobRange(client: RegistryClient, repository: string, desc: Pick<Descriptor, 'digest' | 'size'>, start: number, end: number, timing: RequestTiming = {}): Promise<Readable> {
  const what = `${client.registry}/${repository}: blob ${desc.digest}`;
  const op = `fetch blob ${desc.digest} (bytes ${start}-${end})`;
  const length = end - start + 1;
  const get = (range: string | undefined) => client.request({
    ...timing,
    method: 'GET',
    url: v2Path(repository, `blobs/${desc.digest}`),
    op,
    scopes: [pullScope(repository)],
    ...(range ? { headers: { range } } : {}),
  });
  const request = async (from: number): Promise<Readable> => {
    const res = await get(`bytes=${from}-${end}`);
    if (res.status !== 206) return skipBytes(res.body, from);
    const [first, last] = rangeBounds(res);
    if (first === undefined || (first === from && (last === undefined || last >= end))) return res.body;
    // Spliced in, bytes from another offset would go up as the chunk's, and the destination's
    // digest check blame the blob: the whole blob, its first bytes skipped, carries the right ones.
    res.body.on('error', () => {}).destroy();
    return skipBytes((await get(undefined)).body, from);
  };
  const first = await request(start);
  const reopen = async (received: number, attempt: number): Promise<Readable | undefined> => {
    if (!await client.retryWait(op, attempt, undefined, `connection broke at byte ${start + received}`, timing)) return undefined;
    return request(start + received);
  };
  const failure = (err: unknown) => {
    if (timing.signal?.aborted) return abortedError(client.registry, op);
    return err instanceof OcipushError ? err : networkError(client.registry, err);
  };
  const stream = Readable.from(firstBytes(resumeOnBreak(first, length, reopen, client.retryPolicy.retries, what), length, failure), { objectMode: false, highWaterMark: 1 });
  stream.once('close', () => first.destroy());
  return stream;
}

/** The first `length` bytes of the chunks (a registry that ignored Range sends the rest of the blob too, never read). */
async function* firstBytes(chunks: AsyncGenerator<Buffer>, length: number, failure: (err: unknown) => OcipushError): AsyncGenerator<Buffer> {
  let left = length;
  try {
    for await (const chunk of chunks) {
      if (chunk.length >= left) {
        yield chunk.subarray(0, left);
        return;
      }
      left -= chunk.length;
      yield chunk;
    }
  } catch (err) {
    throw failure(err);
  } finally {
    await chunks.return(undefined);
  }
}

/**
 * A foreign (non-distributable) layer the repository does not hold, from its `urls` as crane and
 * skopeo fetch it: each http or https URL in turn (query kept as written: a signed URL) until one
 * answers, the bytes verified against the descriptor. Authorization never goes with it unless the
 * URL is the registry's own origin (the transport's rule for redirects too). `where` (the
 * repository or layout that lacks it) names it in messages. ENOTFOUND naming why each URL failed
 * when none served it.
 */
export async function fetchForeignBlob(client: RegistryClient, where: string, desc: Pick<Descriptor, 'digest' | 'size' | 'urls'>, timing: RequestTiming = {}): Promise<Readable> {
  const what = `${where}: foreign layer ${desc.digest}`;
  const failure = (err: unknown) => {
    if (timing.signal?.aborted) return abortedError(client.registry, `fetch foreign layer ${desc.digest}`);
    return err instanceof OcipushError ? err : networkError(client.registry, err);
  };
  const reasons: string[] = [];
  for (const text of desc.urls ?? []) {
    const url = URL.canParse(text) ? new URL(text) : undefined;
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      reasons.push(url ? `a ${url.protocol.slice(0, -1)} URL, not http or https` : 'a URL that does not parse');
      continue;
    }
    const op = `fetch foreign layer ${desc.digest} from ${url.host}`;
    try {
      const res = await client.request({ ...timing, method: 'GET', url, op, scopes: [] });
      return Readable.from(verified(res.body, desc, `${what} from ${url.host}`, failure), { objectMode: false, highWaterMark: 1 });
    } catch (err) {
      if (timing.signal?.aborted) throw abortedError(client.registry, op);
      if (!(err instanceof OcipushError)) throw err;
      reasons.push(err.message.replace(`${client.registry}: ${op}: `, `${url.host}: `));
    }
  }
  throw new OcipushError('ENOTFOUND', `${what} is not there, and no URL of it served it (${reasons.join('; ') || 'none given'})`, { digest: desc.digest });
}

/** The chunks checked against the descriptor: EDIGEST as soon as there are too many bytes, or at the end. */
async function* verified(chunks: AsyncIterable<Buffer>, desc: Pick<Descriptor, 'digest' | 'size'>, what: string, failure: (err: unknown) => OcipushError): AsyncGenerator<Buffer> {
  const verifier = new ChunkVerifier(desc, what);
  try {
    for await (const chunk of chunks) {
      verifier.update(chunk);
      yield chunk;
    }
  } catch (err) {
    throw failure(err);
  }
  verifier.finish();
}

/**
 * The body's chunks; when the connection breaks mid-blob (a transient network error), asks
 * `reopen` for the rest from the byte where it broke, up to `retries` times (undefined: no time
 * left). A break after `size` bytes is the end: nothing is left to ask for. Giving up, it says
 * where the body broke: the registry was reached and answered (a registry whose storage lost the
 * blob's data announces its size and closes at byte 0), which "cannot reach" would hide.
 */
async function* resumeOnBreak(
  body: Readable, size: number,
  reopen: (received: number, attempt: number) => Promise<Readable | undefined>, retries: number, what: string,
): AsyncGenerator<Buffer> {
  let received = 0;
  let current = body;
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        for await (const chunk of current as AsyncIterable<Buffer>) {
          received += chunk.length;
          yield chunk;
        }
        return;
      } catch (err) {
        current.destroy();
        // Every byte is there and the connection broke as it closed (a proxy dropping it): the verifier judges.
        if (received >= size && isTransientNetworkError(err)) return;
        if (!isTransientNetworkError(err)) throw err;
        const next = attempt > retries ? undefined : await reopen(received, attempt);
        if (!next) {
          throw new OcipushError('ENETWORK', `${what}: the connection broke at byte ${received} of ${size}${attempt > 1 ? `, ${attempt} times` : ''} (${networkReason(err)})`, { cause: err, networkCode: networkErrorCode(err) });
        }
        current = next;
      }
    }
  } finally {
    current.destroy();
  }
}

/** The first byte a 206 says it carries (`Content-Range: bytes 100-199/1000`), if it says. */
function rangeStart(res: RegistryResponse): number | undefined {
  return rangeBounds(res)[0];
}

/** The first and last byte a 206 says it carries (`Content-Range: bytes 100-199/1000`), if it says. */
function rangeBounds(res: RegistryResponse): [number | undefined, number | undefined] {
  const match = /^bytes (\d+)-(\d+)?/.exec(res.header('content-range') ?? '');
  return match ? [Number(match[1]), match[2] === undefined ? undefined : Number(match[2])] : [undefined, undefined];
}

async function* dropFirst(body: Readable, count: number): AsyncGenerator<Buffer> {
  let left = count;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    if (left >= chunk.length) { left -= chunk.length; continue; }
    yield left > 0 ? chunk.subarray(left) : chunk;
    left = 0;
  }
}

function skipBytes(body: Readable, count: number): Readable {
  return Readable.from(dropFirst(body, count), { objectMode: false });
}

/**
 * `POST /v2/<name>/blobs/uploads/`: opens an upload session for the blob. A blob named by another
 * algorithm than sha256 says which (`?digest-algorithm=`, distribution spec after 1.1.1): a
 * registry that hashes chunks as they come hashes them with it; others ignore the parameter.
 */
export async function startUpload(client: RegistryClient, repository: string, desc: Pick<Descriptor, 'digest'>, timing: RequestTiming = {}): Promise<UploadSession> {
  const op = `start upload of blob ${desc.digest}`;
  const query = algorithmQuery(desc.digest);
  const res = await client.request({
    ...timing,
    method: 'POST',
    url: `${v2Path(repository, 'blobs/uploads/')}${query.size > 0 ? `?${query}` : ''}`,
    op,
    scopes: [pushScope(repository)],
    accept: (s) => s === 202 || s === 201 || s === 200,
    // Never cut (openSession): not by the client's destroy() either, which waits for it a little.
    outlivesDestroy: true,
  });
  await res.dump();
  return sessionFrom(client, res, op);
}

/**
 * The POST that opens a session, never cut by the signal: one the registry answered after the
 * client stopped listening would leave a session nobody can name, holding its place until the
 * registry purges stale uploads (distribution: a week). Cancelled meanwhile, the upload waits for
 * the answer (the CLI's exit waits at most EXIT_GRACE_MS) and deletes the session it names before
 * it fails (the client's destroy() waits a few seconds for both).
 */
export async function openSession(client: RegistryClient, repository: string, desc: Pick<Descriptor, 'digest'>, timing: RequestTiming = {}): Promise<UploadSession> {
  const { signal, ...rest } = timing;
  const aborted = () => abortedError(client.registry, `start upload of blob ${desc.digest}`);
  if (signal?.aborted) throw aborted();
  const session = await startUpload(client, repository, desc, rest);
  if (!signal?.aborted) return session;
  await cancelUpload(client, repository, session);
  throw aborted();
}

/** `digest-algorithm=` for a digest that is not sha256 (the registry's default), else nothing. */
function algorithmQuery(digest: Descriptor['digest']): URLSearchParams {
  const algorithm = digestAlgorithm(digest);
  return new URLSearchParams(algorithm === 'sha256' ? {} : { 'digest-algorithm': algorithm });
}

export type MountResult =
  | { kind: 'mounted' }
  /** The registry declined to mount but opened an upload session (202): upload into it. */
  | { kind: 'session'; session: UploadSession }
  /** Refused (401, 403, 404, INVALID_REQUEST …): upload normally. */
  | { kind: 'refused'; reason: string };

/**
 * Cross-repository mount: `POST /v2/<name>/blobs/uploads/?mount=<digest>&from=<repo>`. 201 means
 * the blob is now in `repository` without sending a byte. Harbor, Quay and Docker Hub refuse
 * mounts they do not allow in various ways; every refusal leads to a normal upload.
 */
export async function mountBlob(client: RegistryClient, repository: string, desc: Pick<Descriptor, 'digest'>, fromRepository: string, timing: RequestTiming = {}): Promise<MountResult> {
  // A refused mount opens a session the blob is uploaded into: it is told the algorithm too.
  const query = new URLSearchParams({ mount: desc.digest, from: fromRepository, ...Object.fromEntries(algorithmQuery(desc.digest)) });
  const op = `mount blob ${desc.digest} from ${fromRepository}`;
  let res: RegistryResponse;
  try {
    res = await client.request({
      ...timing,
      method: 'POST',
      url: `${v2Path(repository, 'blobs/uploads/')}?${query}`,
      op,
      scopes: [pushScope(repository), pullScope(fromRepository)],
      accept: () => true,
    });
  } catch (err) {
    // A token service that will not grant pull on the source is a refusal, not a failed push.
    if (err instanceof OcipushError && (err.code === 'EAUTH' || err.code === 'EREGISTRY')) return { kind: 'refused', reason: err.message };
    throw err;
  }
  if (res.status === 201) {
    await res.dump();
    const stored = res.header('docker-content-digest');
    if (stored && stored !== desc.digest) {
      throw new OcipushError('EDIGEST', `${client.registry}: ${op}: the registry mounted ${stored} instead`, { digest: desc.digest });
    }
    return { kind: 'mounted' };
  }
  if (res.status === 202 && res.header('location')) {
    await res.dump();
    return { kind: 'session', session: sessionFrom(client, res, op) };
  }
  const body = await res.text();
  return { kind: 'refused', reason: `${res.status} ${body.slice(0, 200)}` };
}

/** How long a cancelled push goes on asking the registry to delete its upload session. */
const CANCEL_UPLOAD_MS = 2_000;

/**
 * `DELETE` on an upload session: frees the registry's temporary data. Best effort, never fails the
 * push; never cancelled (it is what a cancelled push does last). A 5xx is asked again for a short
 * while: distribution answers 500 to a DELETE that races the request the push cut off (the cut
 * request's handler still writes its hash state into the directory the DELETE removes). Returns
 * whether the registry said the session is gone (2xx, or 404 BLOB_UPLOAD_UNKNOWN: it dropped it itself).
 */
export async function cancelUpload(client: RegistryClient, repository: string, session: UploadSession): Promise<boolean> {
  try {
    const res = await client.request({
      method: 'DELETE',
      url: session.location,
      op: 'cancel upload',
      scopes: [pushScope(repository)],
      quiet: true,
      accept: (status) => (status >= 200 && status < 300) || status === 404,
      deadline: client.now() + CANCEL_UPLOAD_MS,
      // What a failed push does last, as its client is destroyed: destroy() waits for it.
      outlivesDestroy: true,
    });
    if (res.status !== 404) {
      await res.dump();
      return true;
    }
    // 404 BLOB_UPLOAD_UNKNOWN: gone already. distribution answers BLOB_UPLOAD_INVALID for a session
    // cut in the middle of a request (its signed state names fewer bytes than it holds), and keeps
    // what it took until its purge: no deletion to report.
    return !(await res.text()).includes('BLOB_UPLOAD_INVALID');
  } catch {
    // The session expires on its own.
    return false;
  }
}

/**
 * The 2xx that closes an upload (its PUT `?digest=`), dumped. 201 Created says the blob is
 * committed; another 2xx may not (a 202 as to a PATCH: the bytes taken, nothing stored), so the
 * registry is asked (HEAD) and a blob it lacks fails here, naming the answer, as crane and skopeo
 * refuse it, not later as the manifest's MANIFEST_BLOB_UNKNOWN naming no blob.
 */
export async function confirmCommitted(client: RegistryClient, repository: string, desc: Descriptor, res: RegistryResponse, op: string, timing: RequestTiming): Promise<void> {
  await res.dump();
  const stored = res.header('docker-content-digest');
  // distribution checks the sha512 digest it is given, then names the blob by its sha256: another algorithm's name is no mismatch.
  if (stored && stored !== desc.digest && stored.split(':')[0] === digestAlgorithm(desc.digest)) {
    throw new OcipushError('EDIGEST', `${client.registry}: ${op}: the registry stored the content as ${stored}`, { digest: desc.digest });
  }
  if (res.status === 201 || await blobExists(client, repository, desc, timing)) return;
  throw new OcipushError('EREGISTRY', `${client.registry}: ${op}: the registry answered ${res.status} to the PUT that completes the upload (201 Created expected), and does not hold the blob`);
}

/** The session a response points at: its Location, resolved against the URL that answered. */
export function sessionFrom(client: RegistryClient, res: RegistryResponse, op: string, previous?: UploadSession): UploadSession {
  const location = res.header('location');
  if (!location && !previous) {
    throw new OcipushError('EREGISTRY', `${client.registry}: ${op}: the registry answered ${res.status} without a Location header`);
  }
  const session: UploadSession = { location: location ? uploadLocation(client, client.resolve(location, res.url), res.url, op) : previous!.location };
  const min = Number(res.header('oci-chunk-min-length'));
  if (Number.isSafeInteger(min) && min > 0) session.minChunkLength = min;
  else if (previous?.minChunkLength) session.minChunkLength = previous.minChunkLength;
  return session;
}

/**
 * Where an upload goes on. A Location naming plain HTTP on the host that answered over HTTPS is a
 * registry behind a TLS-terminating proxy naming its own scheme wrong (the proxy passes no
 * `X-Forwarded-Proto: https`): the upload goes on over HTTPS to the origin that answered, where
 * the proxy takes it (the URL distribution's `http.relativeurls` would have given). Plain HTTP
 * on another host would carry the blob in the clear: refused, as a redirect there is.
 */
function uploadLocation(client: RegistryClient, location: URL, answered: URL, op: string): URL {
  if (location.protocol !== 'http:' || answered.protocol !== 'https:') return location;
  if (location.hostname === answered.hostname) return new URL(`${location.pathname}${location.search}`, answered.origin);
  throw new OcipushError('EREGISTRY', `${client.registry}: ${op}: the registry named a plain-HTTP upload location (${location.host}); refusing to send the blob unencrypted (a proxy in front of the registry that does not pass X-Forwarded-Proto: https, or distribution's http.host naming http://)`);
}

/**
 * A URL with one query parameter set, every other one kept byte for byte as the registry wrote it
 * (distribution's `_state`, a storage's signature over its query): URLSearchParams would write the
 * whole query again (`~` as `%7E`, `=` in a value as `%3D`), which a signature checked over the
 * query's bytes refuses.
 */
export function withQuery(url: URL, name: string, value: string): URL {
  const next = new URL(url);
  const kept = next.search.slice(1).split('&').filter((pair) => pair !== '' && queryName(pair) !== name);
  next.search = [...kept, `${encodeURIComponent(name)}=${encodeURIComponent(value)}`].join('&');
  return next;
}

/** The decoded name of one `name=value` pair of a query. */
function queryName(pair: string): string {
  const raw = pair.split('=', 1)[0]!.replaceAll('+', ' ');
  try { return decodeURIComponent(raw); } catch { return raw; }
}
