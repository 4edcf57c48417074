/**
 * How often and how patiently a failed registry request is tried again. Registries shed load with
 * 429 and 503 and proxies drop connections under load; a bounded exponential backoff rides those
 * out without turning a dead registry into a long hang.
 */
export interface RetryPolicy {
  /** Attempts after the first one (so `retries + 1` requests at most). */
  retries: number;
  /** Delay before the first retry; doubled for each further one. */
  baseDelayMs: number;
  /** Upper bound of one computed delay. */
  maxDelayMs: number;
  /** Upper bound of a delay the registry asks for with Retry-After. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  retries: 5,
  baseDelayMs: 200,
  maxDelayMs: 10_000,
  maxRetryAfterMs: 60_000,
});

/**
 * How long ocipush waits for a registry. `requestMs` bounds one attempt: the wait for an answer's
 * headers, and any pause in a body. `operationMs` bounds one operation with all its retries and
 * the waits between them (a registry that accepts connections and never answers fails after it,
 * not after every attempt has waited `requestMs`). Bytes that keep flowing are never cut off.
 */
export interface Timeouts {
  requestMs: number;
  operationMs: number;
}

export const DEFAULT_TIMEOUTS: Readonly<Timeouts> = Object.freeze({
  requestMs: 120_000,
  operationMs: 300_000,
});

/** Statuses that say "try again later" rather than "this request is wrong". */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status === 500 || status === 502 || status === 503 || status === 504;
}

/**
 * Milliseconds to wait before retry number `attempt` (1 for the first retry): the registry's
 * Retry-After when it sent one (seconds or an HTTP date), else exponential backoff with jitter so
 * parallel uploads do not retry in lockstep.
 */
export function retryDelay(policy: RetryPolicy, attempt: number, retryAfter?: string | null, now = Date.now()): number {
  const asked = parseRetryAfter(retryAfter, now);
  if (asked !== undefined) return Math.min(asked, policy.maxRetryAfterMs);
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp * (0.8 + Math.random() * 0.4));
}

/** `Retry-After: 120` or `Retry-After: Wed, 21 Oct 2015 07:28:00 GMT` → milliseconds from `now`. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (value === undefined || value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number.parseInt(text, 10) * 1000;
  const when = Date.parse(text);
  if (Number.isNaN(when)) return undefined;
  return Math.max(0, when - now);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) { reject(signal.reason); return; }
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
    const onAbort = () => { clearTimeout(timer); reject(signal?.reason); };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * The wait a `Retry-After` asks for when it ends at or past `deadline` (undefined when it fits, or
 * none was asked): no retry is worth waiting for then. Cutting it to `maxRetryAfterMs` and asking
 * again and again only drew the same refusal until `--timeout` ran out.
 */
export function retryAfterPastDeadline(retryAfter: string | null | undefined, now: number, deadline: number | undefined): number | undefined {
  const asked = parseRetryAfter(retryAfter, now);
  return asked !== undefined && deadline !== undefined && now + asked >= deadline ? asked : undefined;
}

/** ` (the registry asks to wait 1 h before trying again; --timeout leaves 5 min)`, for the failure that ends the operation at once. */
export function retryAfterNote(askedMs: number, leftMs: number): string {
  return ` (the registry asks to wait ${duration(askedMs)} before trying again; --timeout leaves ${duration(Math.max(0, leftMs))})`;
}

function duration(ms: number): string {
  const s = Math.ceil(ms / 1000);
  if (s < 120) return `${s} s`;
  if (s < 2 * 3600) return `${Math.round(s / 60)} min`;
  return `${Number((s / 3600).toFixed(1))} h`;
}
