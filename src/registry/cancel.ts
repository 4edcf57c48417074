import { OcipushError } from '../errors.js';
import type { Timeouts } from './retry.js';
import { networkErrorCode } from './errors.js';
import { holdExitFor, interruptSignal } from '../content/cleanup.js';

/** A registry operation cancelled through its AbortSignal. */
export function abortedError(registry: string, op: string, detail = ''): OcipushError {
  return new OcipushError('EABORTED', `${registry}: ${op}: cancelled${detail}`, { registry });
}

/** The operation's deadline passed: final, never retried (a later attempt would have no time either). */
export function timedOutError(registry: string, op: string, timeouts: Timeouts): OcipushError {
  return new OcipushError(
    'ENETWORK',
    `cannot reach ${registry}: ${op}: no complete answer within ${seconds(timeouts.operationMs)} (--timeout; each attempt waits up to ${seconds(timeouts.requestMs)}, --request-timeout)`,
    { registry, timedOut: true, retryable: false },
  );
}

/** undici gave up waiting for headers or for the next bytes of a body. */
export function isTimeoutError(err: unknown): boolean {
  const code = networkErrorCode(err);
  return code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT';
}

function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

/**
 * Waits for `work` (a token fetch other requests may share, bounded by the request timeout) but
 * stops waiting when `signal` fires: the cancelled request goes no further.
 */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined, aborted: () => Error): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) return Promise.reject(aborted());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(aborted());
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * Runs `work` with a signal that fires with `signal` or when a signal ends the CLI's process
 * (`interruptSignal`), the exit then waiting for `work` to settle: what it began elsewhere (an
 * upload session) is undone before the process goes.
 */
export async function interruptible<T>(signal: AbortSignal | undefined, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const either = new AbortController();
  const abort = () => either.abort();
  const sources = [signal, interruptSignal()].filter((s): s is AbortSignal => s !== undefined);
  for (const source of sources) {
    if (source.aborted) either.abort();
    else source.addEventListener('abort', abort, { once: true });
  }
  const running = work(either.signal);
  holdExitFor(running);
  try {
    return await running;
  } finally {
    // The process-wide signal outlives this work.
    for (const source of sources) source.removeEventListener('abort', abort);
  }
}
