import { OcipushError } from '../errors.js';
import type { Descriptor } from '../oci/descriptor.js';
import { cancelUpload, confirmCommitted, openSession, sessionFrom, withQuery, blobExists, type UploadSession } from './blobs.js';
import { isTransientNetworkError, uploadLoginElsewhere, redirectedError, registryError, networkError } from './errors.js';
import type { RegistryClient, RegistryResponse, RequestTiming } from './http.js';
import { isRetryableStatus } from './retry.js';
import { abortedError, interruptible } from './cancel.js';
import { pushScope } from './scopes.js';
import type { BlobSource } from '../content/blob-source.js';
import { OpenedBodies } from './upload-bodies.js';

const MiB = 1024 * 1024;

/**
 * How a blob goes up. Up to `chunkThreshold`, one PUT: the fewest round trips. Above it, one PATCH
 * streaming the whole blob (then the closing PUT), as skopeo, containerd and crane do: a registry
 * that keeps partial uploads can resume it from the offset it reports, and the registry is never
 * idle between requests (for a 206 MiB blob, 13 sequential 16 MiB PATCHes took distribution about
 * 0.2 s longer than one, each reopening the upload and storing its hash state). When a request is
 * refused as too large (413: proxies and CDNs cap requests around 100 MB), the blob goes in chunks
 * of `chunkSize`, halved on further 413s down to `minChunkSize`.
 */
export const UPLOAD_DEFAULTS = Object.freeze({
  chunkThreshold: 64 * MiB,
  chunkSize: 16 * MiB,
  minChunkSize: 256 * 1024,
});

export interface UploadOptions {
  /** Forces chunked uploads with chunks of this many bytes (`--chunk-size`). */
  chunkSize?: number;
  /** Blobs larger than this go through PATCH (one streamed request) instead of one PUT, unless a chunk size is forced. */
  chunkThreshold?: number;
  /** A session to upload into (a mount the registry answered with 202). */
  session?: UploadSession;
  /** Bytes of the blob the registry has received so far (may go back after a restart). */
  onProgress?: (bytes: number) => void;
  /** Told when a chunk size changes or an upload restarts, for the log. */
  onNotice?: (message: string) => void;
  /**
   * Cancels the upload: the request in flight is aborted, the session deleted (best effort), and
   * the upload fails with EABORTED. The blob is never committed: only the closing PUT does that.
   */
  signal?: AbortSignal;
}

/**
 * The signal, and a deadline that moves on while bytes flow: an upload is bounded by the client's
 * operation timeout since it last made progress, not since it started (a large blob takes long).
 */
class UploadTiming {
  private lastProgress: number;

  constructor(private readonly client: RegistryClient, readonly signal: AbortSignal | undefined, private readonly onProgress?: (bytes: number) => void) {
    this.lastProgress = client.now();
  }

  get request(): RequestTiming {
    return { signal: this.signal, deadline: this.lastProgress + this.client.timeouts.operationMs };
  }

  progress = (bytes: number): void => {
    this.lastProgress = this.client.now();
    this.onProgress?.(bytes);
  };

  /** Waits before a retry, unless no retry fits before the deadline (false). */
  async retryWait(op: string, attempt: number, retryAfter: string | undefined): Promise<boolean> {
    const delayMs = this.client.retryDelay(attempt, retryAfter, this.request.deadline);
    if (delayMs === undefined) return false;
    await this.client.wait(op, delayMs, this.signal);
    return true;
  }
}

/**
 * monolithic: POST + PUT with the body. streamed: POST + one PATCH with the rest of the blob + PUT.
 * chunked: POST + PATCHes of chunkSize + PUT.
 */
type Plan = { mode: 'monolithic' } | { mode: 'streamed' } | { mode: 'chunked'; chunkSize: number };

/** The chunk size of the streamed plan: the rest of the blob in one request. */
const WHOLE_REST = Number.POSITIVE_INFINITY;

/** The registry refused a request as too large (413). */
class TooLarge extends Error {}
/** The registry does not take PATCH (Google Artifact Registry, some proxies). */
class ChunksUnsupported extends Error {}
/** The session cannot be continued (gone, or out of step): start a new one. */
class RestartUpload extends Error {
  constructor(readonly reason: unknown, readonly refusedResume = false) {
    super('the upload session cannot be continued');
  }
}

/**
 * Uploads one blob: a monolithic POST + PUT, or POST + PATCH… + PUT (one streamed PATCH, or
 * chunks), switching between them when the registry says so (413 → smaller chunks; PATCH
 * unsupported → one PUT). A dropped PATCH resumes from the offset the registry reports, re-reading
 * the source from there; a session the registry cannot continue (distribution refuses one that
 * took part of a request) and anything else that fails transiently starts a fresh session, a
 * bounded number of times. Returns only once the registry has confirmed the blob under its digest.
 */
export async function uploadBlob(client: RegistryClient, repository: string, desc: Descriptor, source: BlobSource, options: UploadOptions = {}): Promise<void> {
  // Ctrl-C in the CLI stops the upload as its signal would, and the exit waits for the session's
  // DELETE: an open session holds what it took until the registry purges it (distribution: a week).
  return interruptible(options.signal, (signal) => uploadWithin(client, repository, desc, source, { ...options, signal }));
}

async function uploadWithin(client: RegistryClient, repository: string, desc: Descriptor, source: BlobSource, options: UploadOptions): Promise<void> {
  const op = `push blob ${desc.digest}`;
  const timing = new UploadTiming(client, options.signal, options.onProgress);
  options = { ...options, onProgress: timing.progress };
  let plan = initialPlan(client, desc.size, options);
  let session = options.session;
  let failures = 0;
  for (;;) {
    try {
      if (options.signal?.aborted) throw abortedError(client.registry, op);
      if (plan.mode === 'monolithic') await putMonolithic(client, repository, desc, source, session, options, timing);
      else await uploadChunked(client, repository, desc, source, plan.mode === 'streamed' ? WHOLE_REST : plan.chunkSize, session, options, timing);
      return;
    } catch (err) {
      if (options.signal?.aborted) {
        const deleted = session ? await cancelUpload(client, repository, session) : sessionDeleted.get(err as object);
        const after = deleted === false ? '; the registry did not delete its upload session (it expires there on its own),' : deleted ? '; its upload session was deleted,' : ';';
        throw abortedError(client.registry, `push blob ${desc.digest} to ${repository}`, `${after} the registry committed nothing`);
      }
      session = undefined;
      // A PUT cut off once the registry had it all committed the blob and lost only its answer.
      if (plan.mode === 'monolithic' && isTransientNetworkError(err) && await blobExists(client, repository, desc, timing.request).catch(() => false)) return options.onProgress?.(desc.size);
      if (err instanceof TooLarge && plan.mode !== 'chunked' && !client.quirks.noChunkedUploads) {
        learnMaxRequest(client, desc.size - 1);
        const chunkSize = chunkWithin(client, Math.min(UPLOAD_DEFAULTS.chunkSize, halfUp(desc.size)));
        options.onNotice?.(`${desc.digest}: the registry refused one ${desc.size}-byte request (413), sending chunks of ${chunkSize} bytes`);
        options.onProgress?.(0);
        plan = { mode: 'chunked', chunkSize };
        continue;
      }
      if (err instanceof ChunksUnsupported && plan.mode !== 'monolithic') {
        client.quirks.noChunkedUploads = true;
        options.onNotice?.(`${desc.digest}: the registry does not accept chunked uploads, sending it in one request`);
        options.onProgress?.(0);
        plan = { mode: 'monolithic' };
        continue;
      }
      if (err instanceof TooLarge || err instanceof ChunksUnsupported) {
        throw new OcipushError('EREGISTRY', `${client.registry}: push blob ${desc.digest}: ${err.message}`);
      }
      const failure = asOcipushError(client, err instanceof RestartUpload ? err.reason : err);
      if (!isRetryable(err) || failures >= client.retryPolicy.retries) throw failure;
      failures++;
      const delayMs = err instanceof RestartUpload ? 0 : client.retryDelay(failures, (err as { retryAfter?: string }).retryAfter, timing.request.deadline);
      if (delayMs === undefined) throw client.askedToWait(failure, (err as { retryAfter?: string }).retryAfter, timing.request.deadline);
      const when = delayMs > 0 ? ` in ${(delayMs / 1000).toFixed(1)} s` : '';
      const refused = err instanceof RestartUpload && err.refusedResume ? '; the registry cannot resume the session' : '';
      options.onNotice?.(`${desc.digest}: ${describe(err, client.registry)}${refused}; starting the upload again${when} (${failures}/${client.retryPolicy.retries})`);
      options.onProgress?.(0);
      await client.wait(op, delayMs, options.signal);
    }
  }
}

/** Whether `uploadBlob` would send a blob of `size` bytes in one PUT, as the registry is known now. */
export function sendsInOneRequest(client: RegistryClient, size: number, options: UploadOptions = {}): boolean {
  return initialPlan(client, size, options).mode === 'monolithic';
}

/**
 * What this registry has taught so far (client.quirks) decides before the defaults: no PATCH
 * after one was refused; chunks below a size that drew a 413.
 */
function initialPlan(client: RegistryClient, size: number, options: UploadOptions): Plan {
  const { quirks } = client;
  if (size === 0 || quirks.noChunkedUploads) return { mode: 'monolithic' };
  if (options.chunkSize !== undefined) return { mode: 'chunked', chunkSize: chunkWithin(client, options.chunkSize) };
  if (quirks.maxRequestBytes !== undefined && size > quirks.maxRequestBytes) {
    return { mode: 'chunked', chunkSize: chunkWithin(client, UPLOAD_DEFAULTS.chunkSize) };
  }
  if (size > (options.chunkThreshold ?? UPLOAD_DEFAULTS.chunkThreshold)) return { mode: 'streamed' };
  return { mode: 'monolithic' };
}

/** `wanted`, halved until it is within the largest request the registry took (never below the floor). */
function chunkWithin(client: RegistryClient, wanted: number): number {
  const limit = client.quirks.maxRequestBytes;
  let chunk = wanted;
  while (limit !== undefined && chunk > limit && chunk > UPLOAD_DEFAULTS.minChunkSize) chunk = Math.max(UPLOAD_DEFAULTS.minChunkSize, halfUp(chunk));
  return chunk;
}

function learnMaxRequest(client: RegistryClient, bytes: number): void {
  const known = client.quirks.maxRequestBytes;
  client.quirks.maxRequestBytes = known === undefined ? bytes : Math.min(known, bytes);
}

/** Whether the session of an upload that failed with this error was deleted (told to the user when it was cancelled). */
const sessionDeleted = new WeakMap<object, boolean>();

/** Deletes the session an attempt leaves behind and hands back its error, noting whether the DELETE took. */
async function cancelledAfter(client: RegistryClient, repository: string, session: UploadSession, err: unknown): Promise<unknown> {
  const deleted = await cancelUpload(client, repository, session);
  if (typeof err === 'object' && err !== null) sessionDeleted.set(err, deleted);
  return err;
}

/** POST (unless a session is given), then one PUT `?digest=` streaming the whole blob. */
async function putMonolithic(client: RegistryClient, repository: string, desc: Descriptor, source: BlobSource, session: UploadSession | undefined, options: UploadOptions, timing: UploadTiming): Promise<void> {
  const op = `push blob ${desc.digest}`;
  session ??= await openSession(client, repository, desc, timing.request);
  const bodies = new OpenedBodies();
  try {
    const res = await client.request({
      ...timing.request,
      method: 'PUT',
      url: withQuery(session.location, 'digest', desc.digest),
      op,
      scopes: [pushScope(repository)],
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(desc.size) },
      body: desc.size === 0 ? undefined : bodies.opener(() => source.open(), 0, options.onProgress),
      accept: () => true,
      retry: false,
    }).finally(() => bodies.release());
    if (!isSuccess(res.status)) await failUpload(client, op, res);
    await confirmCommitted(client, repository, desc, res, op, timing.request);
    options.onProgress?.(desc.size);
  } catch (err) {
    throw await cancelledAfter(client, repository, session, err);
  }
}

/**
 * POST, then PATCH chunks (`Content-Range: start-end`, inclusive; Content-Length end-start+1),
 * always to the newest Location, then PUT `?digest=`. The offset comes from the registry's Range
 * header, so a registry that kept less than we sent is sent the rest. With WHOLE_REST, one PATCH
 * carries the blob, and a resume carries everything from the offset the registry reports.
 */
async function uploadChunked(client: RegistryClient, repository: string, desc: Descriptor, source: BlobSource, requestedChunk: number, given: UploadSession | undefined, options: UploadOptions, timing: UploadTiming): Promise<void> {
  const op = `push blob ${desc.digest}`;
  let session = given ?? await openSession(client, repository, desc, timing.request);
  let chunkSize = Math.max(requestedChunk, session.minChunkLength ?? 0);
  const floor = Math.max(Math.min(UPLOAD_DEFAULTS.minChunkSize, requestedChunk), session.minChunkLength ?? 0);
  let offset = 0;
  let patches = 0;
  let resumes = 0;
  const resync = async (why: unknown) => {
    if (resumes >= client.retryPolicy.retries) throw new RestartUpload(why);
    resumes++;
    if (!await timing.retryWait(op, resumes, (why as { retryAfter?: string }).retryAfter)) throw client.askedToWait(why, (why as { retryAfter?: string }).retryAfter, timing.request.deadline);
    const status = await uploadStatus(client, repository, session, op, timing.request);
    // Gone, or out of step (distribution refuses a session that took part of a request): a new session.
    if (status === 'refused') throw new RestartUpload(why, true);
    if (status === 'unclear') throw new RestartUpload(why);
    if (status.offset > desc.size) throw new OcipushError('EDIGEST', `${client.registry}: ${op}: the registry holds ${status.offset} bytes of a ${desc.size}-byte blob`);
    options.onNotice?.(`${desc.digest}: ${describe(why, client.registry)}; resuming at byte ${status.offset} of ${desc.size}`);
    session = status.session;
    offset = status.offset;
    options.onProgress?.(offset);
  };
  try {
    while (offset < desc.size) {
      const start = offset;
      const end = Math.min(start + chunkSize, desc.size) - 1;
      let res: RegistryResponse;
      const bodies = new OpenedBodies();
      try {
        res = await client.request({
          ...timing.request,
          method: 'PATCH',
          url: session.location,
          op: `${op} (bytes ${start}-${end})`,
          scopes: [pushScope(repository)],
          headers: {
            'content-type': 'application/octet-stream',
            'content-range': `${start}-${end}`,
            'content-length': String(end - start + 1),
          },
          // The whole blob is read verified: a corrupt local blob fails here, not at the registry.
          body: bodies.opener(() => start === 0 && end === desc.size - 1 ? source.open() : source.openRange(start, end), start, options.onProgress),
          accept: () => true,
          retry: false,
        });
      } catch (err) {
        if (options.signal?.aborted || !isTransientNetworkError(err)) throw err;
        await resync(err);
        continue;
      } finally {
        bodies.release();
      }
      patches++;
      if (isSuccess(res.status)) {
        await res.dump();
        session = sessionFrom(client, res, op, session);
        offset = confirmedOffset(res.header('range'), start, end);
        // A registry that says it holds no more than before the chunk is asked where it stands (a bounded number of times), never sent the same bytes for ever.
        if (offset <= start) { await resync(new OcipushError('EREGISTRY', `${client.registry}: ${op}: the registry took bytes ${start}-${end} and says it holds ${offset}`)); continue; }
        options.onProgress?.(offset);
        continue;
      }
      if (res.status === 413) {
        await res.dump();
        if (chunkSize <= floor) throw new TooLarge(`the registry refuses even ${chunkSize}-byte chunks (413)`);
        const refused = end - start + 1;
        learnMaxRequest(client, Math.min(chunkSize, refused) - 1);
        // A refused stream goes on in the default chunks (or half of what was refused, if smaller).
        chunkSize = Math.max(floor, chunkSize === WHOLE_REST ? chunkWithin(client, Math.min(UPLOAD_DEFAULTS.chunkSize, halfUp(refused))) : halfUp(chunkSize));
        options.onNotice?.(`${desc.digest}: the registry refused a ${refused}-byte request as too large (413), sending chunks of ${chunkSize} bytes`);
        // Bytes of the refused request may have been counted as they went out.
        options.onProgress?.(offset);
        continue;
      }
      if (patches === 1 && start === 0 && (res.status === 404 || res.status === 405 || res.status === 501 || (res.status === 400 && (await peekCodes(res)).includes('UNSUPPORTED')))) {
        await res.dump();
        throw new ChunksUnsupported(`PATCH answered ${res.status}`);
      }
      if (res.status === 416 || isRetryableStatus(res.status)) {
        const retryAfter = res.header('retry-after');
        const text = await res.text();
        await resync(Object.assign(registryError(client.registry, op, res.status, text), { retryAfter }));
        continue;
      }
      await failUpload(client, op, res);
    }
  } catch (err) {
    throw await cancelledAfter(client, repository, session, err);
  }
  await finishChunked(client, repository, desc, session, op, timing.request);
  options.onProgress?.(desc.size);
}

/** The closing `PUT <location>?digest=` with no body. */
async function finishChunked(client: RegistryClient, repository: string, desc: Descriptor, session: UploadSession, op: string, timing: RequestTiming): Promise<void> {
  // A retried PUT whose first answer was lost finds the session gone: the blob may be complete.
  const completedMeanwhile = () => blobExists(client, repository, desc, timing).catch(() => false);
  let res: RegistryResponse;
  try {
    res = await client.request({
      ...timing,
      method: 'PUT',
      url: withQuery(session.location, 'digest', desc.digest),
      op,
      scopes: [pushScope(repository)],
      accept: () => true,
    });
  } catch (err) {
    if (isTransientNetworkError(err) && await completedMeanwhile()) return;
    throw await cancelledAfter(client, repository, session, err);
  }
  if (isSuccess(res.status)) {
    try { return await confirmCommitted(client, repository, desc, res, op, timing); } catch (err) { throw await cancelledAfter(client, repository, session, err); }
  }
  if (res.status === 404 && await completedMeanwhile()) { await res.dump(); return; }
  await cancelUpload(client, repository, session);
  await failUpload(client, op, res);
}

/**
 * `GET <upload location>`: how many bytes the registry holds (`Range: 0-N`), and the new Location;
 * 'refused' when the session cannot go on, 'unclear' when the answer gives no usable offset.
 */
async function uploadStatus(client: RegistryClient, repository: string, session: UploadSession, op: string, timing: RequestTiming): Promise<{ offset: number; session: UploadSession } | 'refused' | 'unclear'> {
  let res: RegistryResponse;
  try {
    res = await client.request({ ...timing, method: 'GET', url: session.location, op: `${op} (upload status)`, scopes: [pushScope(repository)], accept: () => true });
  } catch (err) {
    // Cancelled, or out of time: final. Anything else: start a fresh session.
    if (timing.signal?.aborted || (err instanceof OcipushError && err.details.timedOut)) throw err;
    return 'unclear';
  }
  await res.dump();
  if (res.status !== 204 && res.status !== 200) return 'refused';
  const range = res.header('range');
  // "0-0" means 0 or 1 bytes in distribution; without a way to tell, start a fresh session.
  if (!range || /^(bytes=)?0-0$/.test(range.trim())) return 'unclear';
  const last = parseRangeEnd(range);
  if (last === undefined) return 'unclear';
  return { offset: last + 1, session: sessionFrom(client, res, op, session) };
}

/** The next offset after a PATCH: from the registry's Range header, else the end we sent. A Range ending
 * before the chunk's start is the chunk's alone, counted from 0 (zot's answer before distribution-spec#581). */
function confirmedOffset(range: string | undefined, start: number, sentEnd: number): number {
  const last = range === undefined ? undefined : parseRangeEnd(range);
  if (last === undefined) return sentEnd + 1;
  if (last < start) return start + last + 1;
  // distribution says "0-0" for both 0 and 1 bytes held: after sending one byte it is that byte.
  if (last === 0) return sentEnd === 0 ? 1 : 0;
  return last + 1;
}

/** `0-1048575` or `bytes=0-1048575` → 1048575. */
export function parseRangeEnd(range: string): number | undefined {
  const m = /^(?:bytes=)?(\d+)-(\d+)$/.exec(range.trim());
  if (!m) return undefined;
  return Number.parseInt(m[2]!, 10);
}

function isSuccess(status: number): boolean {
  return status >= 200 && status < 300;
}

/** Raises for an unexpected answer to an upload request (413 and 5xx as kinds the caller acts on). */
async function failUpload(client: RegistryClient, op: string, res: RegistryResponse): Promise<never> {
  const retryAfter = res.header('retry-after');
  const text = await res.text();
  if (res.status === 413) throw new TooLarge('413 Payload Too Large');
  // Another host's answer is a storage's (S3, GCS), no login's, unless it is the registry's login challenge under another of its names.
  const err = res.url.origin === client.origin ? registryError(client.registry, op, res.status, text) : res.status === 401 && res.header('www-authenticate') ? uploadLoginElsewhere(client.registry, op, res.url.host, text) : redirectedError(client.registry, op, res.url.host, res.status, text);
  if (isRetryableStatus(res.status)) throw Object.assign(err, { retryAfter, retryableStatus: true });
  if (err.code === 'EDIGEST') throw new OcipushError('EDIGEST', `${err.message} (the registry disputes the digest or size of the bytes sent: is the local blob corrupt?)`, err.details);
  throw err;
}

async function peekCodes(res: RegistryResponse): Promise<string[]> {
  const text = await res.text();
  try { return ((JSON.parse(text) as { errors?: { code?: string }[] }).errors ?? []).map((e) => String(e.code)); } catch { return []; }
}

function isRetryable(err: unknown): boolean {
  if (err instanceof RestartUpload) return true;
  if ((err as { retryableStatus?: boolean }).retryableStatus) return true;
  if (err instanceof OcipushError && err.details.registryCodes?.some((c) => c === 'BLOB_UPLOAD_UNKNOWN' || c === 'BLOB_UPLOAD_INVALID')) return true;
  return isTransientNetworkError(err);
}

function asOcipushError(client: RegistryClient, err: unknown): OcipushError {
  if (err instanceof OcipushError) return err;
  return networkError(client.registry, err);
}

/** Why an attempt failed, without the registry and blob the caller names anyway: `500 UNKNOWN: …`, `connection reset`. */
function describe(err: unknown, registry: string): string {
  if (err instanceof RestartUpload) return describe(err.reason, registry);
  const text = (err instanceof OcipushError ? err.message : networkError(registry, err).message)
    .replace(`cannot reach ${registry}: `, '')
    .replace(`${registry}: `, '');
  return text.replace(/^[^:]*sha256:[0-9a-f]{64}[^:]*: /, '');
}

function halfUp(n: number): number {
  return Math.ceil(n / 2);
}
