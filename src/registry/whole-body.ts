import { OcipushError } from '../errors.js';
import type { RegistryClient, RegistryRequest, RegistryResponse } from './http.js';
import { isTransientNetworkError, networkError, networkErrorCode, networkReason } from './errors.js';
import { abortedError } from './cancel.js';

/** A GET of a small document and its answer, the body read whole when the caller wants it. */
export interface WholeAnswer {
  res: RegistryResponse;
  /** The body, when `wants` took the answer (else it was let go and this is empty). */
  bytes: Buffer;
}

/**
 * A GET whose answer is a small document read whole: a manifest, a page of a tag list or catalog,
 * a referrers index. The transport retries only until the headers; a connection that breaks in
 * the body is asked again here with the client's retry policy (the document is small: read again
 * from its start), as a blob's GET resumes. A body larger than `limit` is refused (EINVALID),
 * never cut short to be read as a document. `wants` says which answers have a body worth reading
 * (default: a 2xx); the others are let go and handed back for the caller to judge.
 */
export async function getWhole(
  client: RegistryClient, request: Omit<RegistryRequest, 'method' | 'body'>, limit: number,
  wants: (res: RegistryResponse) => boolean = (res) => res.status >= 200 && res.status < 300,
): Promise<WholeAnswer> {
  const timing = { signal: request.signal, deadline: request.deadline ?? client.deadline() };
  for (let attempt = 1; ; attempt++) {
    const res = await client.request({ ...request, ...timing, method: 'GET' });
    if (!wants(res)) {
      await res.dump();
      return { res, bytes: Buffer.alloc(0) };
    }
    const length = Number(res.header('content-length'));
    if (Number.isFinite(length) && length > limit) {
      res.body.destroy();
      throw new OcipushError('EINVALID', `${client.registry}: ${request.op}: ${length} bytes is larger than it should ever be (at most ${limit})`);
    }
    const read = { bytes: 0 };
    try {
      return { res, bytes: await readLimited(res, limit, `${client.registry}: ${request.op}`, read) };
    } catch (err) {
      if (timing.signal?.aborted) throw abortedError(client.registry, request.op);
      if (err instanceof OcipushError) throw err;
      if (!isTransientNetworkError(err)) throw networkError(client.registry, err);
      const broke = `the connection broke at byte ${read.bytes}${Number.isFinite(length) ? ` of ${length}` : ''}`;
      if (attempt > client.retryPolicy.retries || !await client.retryWait(request.op, attempt, undefined, broke, timing)) {
        throw new OcipushError('ENETWORK', `${client.registry}: ${request.op}: ${broke}${attempt > 1 ? `, ${attempt} times` : ''} (${networkReason(err)})`, { cause: err, networkCode: networkErrorCode(err) });
      }
    }
  }
}

/** The body, at most `limit` bytes; `read.bytes` counts what came, for a message when the body breaks. */
async function readLimited(res: RegistryResponse, limit: number, what: string, read: { bytes: number }): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    read.bytes += chunk.length;
    if (read.bytes > limit) {
      res.body.destroy();
      throw new OcipushError('EINVALID', `${what}: larger than ${limit} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
