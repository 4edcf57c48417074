import type { Dispatcher } from 'undici';
import { OcipushError } from '../errors.js';
import { VERSION } from '../version.js';
import {
  authError, isCertificateError, isDefiniteFailure, networkError, networkErrorCode, isTransientNetworkError, RedirectedRequestFailure, redirectedError, speaksNoTls,
  redirectedNetworkError, registryError, type TlsIdentity,
} from './errors.js';
import { isLoopbackRegistry } from '../oci/reference.js';
import { DEFAULT_RETRY_POLICY, DEFAULT_TIMEOUTS, isRetryableStatus, retryAfterNote, retryAfterPastDeadline, retryDelay, sleep, type RetryPolicy, type Timeouts } from './retry.js';
import { abortedError, isTimeoutError, timedOutError, untilAborted } from './cancel.js';
import { clientCertificate, createDispatcher, originWithScheme, registryOrigin, type TransportOptions } from './transport.js';
import { definedOnly, lowerKeys, releaseBody, wrapResponse } from './http-util.js';
import { confirmRegistry } from './registry-check.js';
import { InFlight } from './in-flight.js';
import { MAX_REDIRECTS, redirectHop } from './redirects.js';
import type { Authorizer, HttpMethod, RegistryQuirks, RegistryRequest, RegistryResponse, RequestTiming, RetryNotice } from './http-types.js';

export type { Authorizer, BodyOpener, HttpMethod, RegistryQuirks, RegistryRequest, RegistryResponse, RequestBody, RequestTiming, RetryNotice } from './http-types.js';

export interface RegistryClientOptions extends TransportOptions {
  /** Or a factory given the client's connection pool (token requests share it) and `ended`, which fires with `signal` and at close() or destroy(). */
  authorizer?: Authorizer | ((dispatcher: Dispatcher, ended: AbortSignal) => Authorizer);
  /** Ends what the client does behind its requests (token requests, their retries and waits); a request ends by its own `signal`. */
  signal?: AbortSignal;
  retry?: RetryPolicy;
  /** How long one attempt may wait for an answer, and how long an operation may take with its retries. */
  timeouts?: Partial<Timeouts>;
  /** Told before each retry, for a progress line in CI logs. */
  onRetry?: (notice: RetryNotice) => void;
  dispatcher?: Dispatcher;
  /** The clock deadlines are measured with (tests inject one). */
  now?: () => number;
}

const USER_AGENT = `ocipush/${VERSION}`;

/**
 * The one way ocipush talks to a registry. Every request passes through `request`, which adds the
 * Authorization header (only ever for the registry's own origin), answers 401 challenges once,
 * retries transient failures with backoff, follows redirects by hand and turns failures into
 * one-line OcipushErrors.
 */
export class RegistryClient {
  readonly registry: string;
  /** `https://host[:port]` or `http://…`; for a loopback registry settled by the first request. */
  private originValue: string;
  private originProbe?: Promise<string>;
  readonly retryPolicy: RetryPolicy;
  readonly timeouts: Timeouts;
  readonly now: () => number;
  readonly quirks: RegistryQuirks = {};
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;
  private readonly authorizer?: Authorizer;
  /** Fired by close() and destroy(): the client's own work (token requests) stops. */
  private readonly ending = new AbortController();
  /** Requests in flight: destroy() stops them, letting an upload session's DELETE finish (in-flight.ts). */
  private readonly inFlight = new InFlight();
  private destroyed?: Promise<void>;
  private readonly onRetry?: (notice: RetryNotice) => void;
  private answered = false;
  /** An answer showed the host speaks the registry API (registry-check.ts). */
  private knownRegistry = false;
  /** The loopback scheme probe got a 200 for `GET /v2/` (no credentials needed). */
  private probeAnsweredOk = false;
  private readonly certDir?: string;
  /** The scheme is found by asking HTTPS first, then plain HTTP when the server speaks no TLS at all. */
  private readonly httpsFirst: boolean;

  constructor(registry: string, options: RegistryClientOptions = {}) {
    this.registry = registry;
    this.originValue = registryOrigin(registry, options);
    // localhost may also be served with TLS (a test registry with a self-signed certificate): the
    // first request finds out which, unless plain HTTP was asked for. With --insecure another host
    // may speak plain HTTP (a CI service container named `registry:5000`): the first request
    // finds out too, HTTPS first, as docker's insecure registries, crane --insecure and skopeo
    // --tls-verify=false fall back.
    this.httpsFirst = options.insecure === true && options.plainHttp !== true && !isLoopbackRegistry(registry);
    if ((!isLoopbackRegistry(registry) && !this.httpsFirst) || options.plainHttp === true) this.originProbe = Promise.resolve(this.originValue);
    this.retryPolicy = options.retry ?? DEFAULT_RETRY_POLICY;
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...definedOnly(options.timeouts) };
    this.now = options.now ?? Date.now;
    this.onRetry = options.onRetry;
    this.certDir = options.certDir;
    this.ownsDispatcher = !options.dispatcher;
    this.dispatcher = options.dispatcher ?? createDispatcher(registry, { ...options, requestTimeoutMs: Math.min(this.timeouts.requestMs, this.timeouts.operationMs) });
    const ended = options.signal ? AbortSignal.any([options.signal, this.ending.signal]) : this.ending.signal;
    this.authorizer = typeof options.authorizer === 'function' ? options.authorizer(this.dispatcher, ended) : options.authorizer;
  }

  /** `GET /v2/`: checks the registry is there, speaks the v2 API and accepts our credentials. */
  async ping(timing: RequestTiming = {}): Promise<void> {
    // The scheme probe was itself a GET /v2/; if it was answered 200, asking again adds nothing.
    if (this.probeAnsweredOk) return;
    const res = await this.request({ ...timing, method: 'GET', url: '/v2/', op: 'check the registry API (GET /v2/)', scopes: [] });
    await res.dump();
  }

  request(req: RegistryRequest): Promise<RegistryResponse> {
    return this.inFlight.run(req.signal, req.outlivesDestroy, (signal) => this.attempts({ ...req, signal }));
  }

  private async attempts(req: RegistryRequest): Promise<RegistryResponse> {
    const accept = req.accept ?? ((s: number) => s >= 200 && s < 300);
    const mayRetry = req.retry !== false;
    const deadline = req.deadline ?? this.deadline();
    const wait = { signal: req.signal, deadline, quiet: req.quiet };
    let attempt = 0;
    // Two rounds: a stale token replaced, then (rarely) a scope the registry added in its challenge.
    let challenges = 0;
    for (;;) {
      if (req.signal?.aborted) throw abortedError(this.registry, req.op);
      const left = deadline - this.now();
      if (left <= 0) throw timedOutError(this.registry, req.op, this.timeouts);
      let res: RegistryResponse;
      try {
        res = await this.send({ ...req, deadline }, Math.min(this.timeouts.requestMs, left));
      } catch (err) {
        if (req.signal?.aborted) throw abortedError(this.registry, req.op);
        if (isTimeoutError(err) && this.now() >= deadline) throw timedOutError(this.registry, req.op, this.timeouts);
        // A registry that refuses connections from the start is down or misnamed: say so now. Once
        // it has answered, a refusal is a restart or a load balancer shuffling, worth waiting out.
        const refusedFromStart = !this.answered && networkErrorCode(err) === 'ECONNREFUSED';
        // A request to another host (a foreign layer's URL) names that host, not the registry.
        const failure = err instanceof RedirectedRequestFailure ? redirectedNetworkError(this.registry, err)
          : networkError(typeof req.url === 'string' && req.url.startsWith('/') ? this.registry : new URL(req.url).host, err, () => this.tlsIdentity());
        if (mayRetry && !refusedFromStart && isTransientNetworkError(err) && attempt < this.retryPolicy.retries) {
          if (await this.retryWait(req.op, ++attempt, undefined, failure.message, wait)) continue;
          // No retry fits before the deadline: a silent registry has then used up the operation's
          // time, which is said in the words of the options that bound it, whatever the timers' order.
          if (isTimeoutError(err)) throw timedOutError(this.registry, req.op, this.timeouts);
        }
        throw failure;
      }
      this.answered = true;
      if (!this.knownRegistry) this.knownRegistry = await confirmRegistry(this, res, req);
      // Only the registry's own challenge: another host's (a foreign layer URL) must not get credentials sent to its realm.
      if (res.status === 401 && this.authorizer && res.url.origin === this.originValue) {
        const challenge = res.headerAll('www-authenticate');
        if (challenge.length > 0 && challenges < 2) {
          challenges++;
          const bodyText = await res.text();
          if (await untilAborted(this.authorizer.handleChallenge(challenge, req.scopes, { authorization: res.sentAuthorization }, deadline), req.signal, () => abortedError(this.registry, req.op))) continue;
          throw this.authorizer.refusedError?.() ?? authError(registryError(this.registry, req.op, 401, bodyText), true);
        }
      }
      let delayMs = mayRetry && isRetryableStatus(res.status) && attempt < this.retryPolicy.retries
        ? this.retryDelay(attempt + 1, res.header('retry-after'), deadline) : undefined;
      // A 500 whose error document says what is wrong with the request is the same next time.
      let bodyText: string | undefined;
      if (delayMs !== undefined && res.status === 500 && !accept(res.status)) {
        bodyText = await res.text();
        if (isDefiniteFailure(bodyText)) delayMs = undefined;
      }
      if (delayMs !== undefined) {
        if (bodyText === undefined) await res.dump();
        await this.wait(req.op, delayMs, req.signal, { attempt: ++attempt, reason: `${res.status}`, quiet: req.quiet });
        continue;
      }
      if (accept(res.status)) return res;
      const failure = await this.failure(req, res, challenges > 0, bodyText);
      throw mayRetry && isRetryableStatus(res.status) ? this.askedToWait(failure, res.header('retry-after'), deadline) : failure;
    }
  }

  /** The deadline of an operation starting now (pass it as `deadline` to several requests that form one operation). */
  deadline(): number {
    return this.now() + this.timeouts.operationMs;
  }

  /**
   * The one retry policy: the wait before retry number `attempt` (1 for the first), as the policy
   * and the registry's Retry-After say; undefined when that wait would end past the operation's
   * deadline (the caller reports its last failure instead).
   */
  retryDelay(attempt: number, retryAfter?: string, deadline?: number): number | undefined {
    const now = this.now();
    const delayMs = retryAfterPastDeadline(retryAfter, now, deadline) === undefined ? retryDelay(this.retryPolicy, attempt, retryAfter, now) : Infinity;
    return deadline !== undefined && this.now() + delayMs >= deadline ? undefined : delayMs;
  }

  /** `failure` saying how long the registry asked to wait, when its Retry-After ends past the deadline: why no retry was made. */
  askedToWait<T>(failure: T, retryAfter: string | undefined, deadline: number | undefined): T | OcipushError {
    const asked = retryAfterPastDeadline(retryAfter, this.now(), deadline);
    if (asked === undefined || deadline === undefined || !(failure instanceof OcipushError)) return failure;
    return new OcipushError(failure.code, `${failure.message}${retryAfterNote(asked, deadline - this.now())}`, { ...failure.details, retryAfterMs: asked });
  }

  /** Waits `delayMs` before a retry (told to onRetry when `notice` is given); EABORTED when `signal` fires meanwhile. */
  async wait(op: string, delayMs: number, signal?: AbortSignal, notice?: Omit<RetryNotice, 'op' | 'delayMs'> & { quiet?: boolean }): Promise<void> {
    if (notice && !notice.quiet) this.onRetry?.({ op, delayMs, attempt: notice.attempt, reason: notice.reason });
    try {
      await sleep(delayMs, signal);
    } catch {
      throw abortedError(this.registry, op);
    }
  }

  /** retryDelay then wait, told to onRetry: false (without waiting) when no retry fits before the deadline. */
  async retryWait(op: string, attempt: number, retryAfter: string | undefined, reason: string, options: RequestTiming & { quiet?: boolean } = {}): Promise<boolean> {
    const delayMs = this.retryDelay(attempt, retryAfter, options.deadline);
    if (delayMs === undefined) return false;
    await this.wait(op, delayMs, options.signal, { attempt, reason, quiet: options.quiet });
    return true;
  }

  /** The one-line error for an answer the caller did not accept (from a host a redirect led to: named as that host's). */
  private async failure({ op, url }: RegistryRequest, res: RegistryResponse, afterChallenge: boolean, read?: string): Promise<OcipushError> {
    const bodyText = read ?? await res.text();
    if (res.url.origin !== new URL(url, this.originValue).origin) return redirectedError(this.registry, op, res.url.host, res.status, bodyText);
    return res.status === 401 ? authError(registryError(this.registry, op, 401, bodyText), afterChallenge) : registryError(this.registry, op, res.status, bodyText);
  }

  /** The client certificate this client's connections show (the same to every host), for a refusal's message. */
  private tlsIdentity(): TlsIdentity {
    let certFile: string | undefined;
    try { certFile = clientCertificate(this.registry, this.certDir)?.certFile; } catch { /* a broken pair is named before any connection */ }
    return { certFile, certDir: this.certDir };
  }

  /** Resolves a Location header (absolute, or relative to the URL that sent it), keeping its query. */
  resolve(location: string, base: URL | string = this.originValue): URL { return new URL(location, base); }

  /** The registry's origin once known: `https://…`, or `http://…` for plain-HTTP registries. */
  get origin(): string { return this.originValue; }

  private settleOrigin(timeoutMs = this.timeouts.requestMs, signal?: AbortSignal): Promise<string> {
    const probe = this.originProbe ??= this.probeScheme(timeoutMs, signal).then((origin) => { this.originValue = origin; return origin; });
    // A probe cut off by a cancelled request is asked again by the next one.
    probe.catch(() => { if (this.originProbe === probe) this.originProbe = undefined; });
    return probe;
  }

  /**
   * Which scheme a loopback registry speaks. Plain HTTP is asked first: it is what local registries
   * nearly always speak, and it costs no TLS set-up (a third of a warm push). A TLS server answers
   * a plain request with a 400 ("client sent an HTTP request to an HTTPS server") or drops it; then
   * HTTPS is asked, and it wins if its handshake works or fails over the certificate (the real
   * request then names the certificate problem). The probe carries no credentials.
   */
  private async probeScheme(timeoutMs: number, signal?: AbortSignal): Promise<string> {
    const http = originWithScheme(this.registry, 'http');
    const probe = { path: '/v2/', method: 'GET' as const, headers: { 'user-agent': USER_AGENT }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, signal };
    if (this.httpsFirst) {
      const https = originWithScheme(this.registry, 'https');
      try {
        await (await this.dispatcher.request({ origin: https, ...probe })).body.dump().catch(() => {});
        return https;
      } catch (err) {
        if (signal?.aborted) throw err;
        return speaksNoTls(err) ? http : https;
      }
    }
    try {
      const res = await this.dispatcher.request({ origin: http, ...probe });
      await res.body.dump().catch(() => {});
      if (res.statusCode !== 400) {
        this.probeAnsweredOk = res.statusCode === 200;
        this.answered = true;
        return http;
      }
    } catch (err) {
      if (signal?.aborted) throw err;
      // Nothing listens, or a server that never answers: neither scheme will do; the real request says so.
      if (networkErrorCode(err) === 'ECONNREFUSED' || isTimeoutError(err)) return http;
    }
    const https = originWithScheme(this.registry, 'https');
    try {
      const res = await this.dispatcher.request({ origin: https, ...probe });
      await res.body.dump().catch(() => {});
      return https;
    } catch (err) {
      if (signal?.aborted) throw err;
      // A certificate problem, or TLS settings of ours that cannot be used (certs.d): the real request says which.
      return isCertificateError(err) || err instanceof OcipushError ? https : http;
    }
  }

  /** Waits for requests in flight, then closes the connections. */
  async close(): Promise<void> {
    this.ending.abort();
    if (this.ownsDispatcher) await this.dispatcher.close();
  }

  /** Aborts the requests in flight (a failed push stops its other uploads), lets an upload session's DELETE (`outlivesDestroy`) finish, closes the connections. */
  destroy(): Promise<void> {
    return this.destroyed ??= this.inFlight.stop().then(async () => {
      // Not before: a DELETE may need a token.
      this.ending.abort();
      if (this.ownsDispatcher) await this.dispatcher.destroy().catch(() => {});
    });
  }

  /** One attempt, following redirects; Authorization only goes to the registry's own origin. */
  private async send(req: RegistryRequest, timeoutMs: number): Promise<RegistryResponse> {
    if (this.originProbe === undefined && req.body === undefined && typeof req.url === 'string' && req.url.startsWith('/')) {
      return this.sendAsProbe(req, timeoutMs);
    }
    return this.sendTo(await this.settleOrigin(timeoutMs, req.signal), req, timeoutMs);
  }

  /**
   * The request in hand finds the scheme; requests that come meanwhile wait for `decide`. When it
   * is cancelled, `cancelled` leaves the finding to the next request (and returns the error).
   */
  private openProbe(): { decide: (origin: string) => void; cancelled: (err: unknown) => unknown } {
    let settle!: (origin: string) => void;
    let fail!: (err: unknown) => void;
    const probe = new Promise<string>((resolve, reject) => { settle = resolve; fail = reject; });
    probe.catch(() => {});
    this.originProbe = probe;
    return {
      decide: (origin) => { this.originValue = origin; settle(origin); },
      cancelled: (err) => { this.originProbe = undefined; fail(err); return err; },
    };
  }

  /**
   * The first request to a loopback registry whose scheme is not known yet, when it has no body
   * (a HEAD of a tag, a GET): it is itself the probe, as probeScheme would ask, so a push needs
   * no GET /v2/ before it. Plain HTTP first; a 400 or a dropped connection means TLS may be
   * spoken, and the same request goes over HTTPS, which wins if it is answered or fails over the
   * certificate. Requests that come meanwhile wait for the scheme.
   */
  private async sendAsProbe(req: RegistryRequest, timeoutMs: number): Promise<RegistryResponse> {
    if (this.httpsFirst) return this.sendAsHttpsFirstProbe(req, timeoutMs);
    const { decide, cancelled } = this.openProbe();
    const http = originWithScheme(this.registry, 'http');
    const https = originWithScheme(this.registry, 'https');
    let httpError: unknown;
    try {
      const res = await this.sendTo(http, req, timeoutMs);
      if (res.status !== 400) {
        decide(http);
        return res;
      }
      await res.dump();
    } catch (err) {
      if (req.signal?.aborted) throw cancelled(err);
      // Nothing listens, or a server that never answers: neither scheme will do; the caller says so.
      if (networkErrorCode(err) === 'ECONNREFUSED' || isTimeoutError(err)) {
        decide(http);
        throw err;
      }
      httpError = err;
    }
    try {
      const res = await this.sendTo(https, req, timeoutMs);
      decide(https);
      return res;
    } catch (err) {
      if (req.signal?.aborted) throw cancelled(err);
      if (isCertificateError(err) || err instanceof OcipushError) {
        decide(https);
        throw err;
      }
      decide(http);
      if (httpError !== undefined) throw httpError;
    }
    // The 400 was the plain-HTTP registry's own answer: ask again for the caller to read it.
    return this.sendTo(http, req, timeoutMs);
  }

  /**
   * The first request to a registry named with --insecure: over HTTPS (any certificate); when the
   * server answers the handshake as no TLS server would (plain HTTP's reply to a ClientHello), the
   * same request over plain HTTP, which then settles the scheme. Requests that come meanwhile wait.
   */
  private async sendAsHttpsFirstProbe(req: RegistryRequest, timeoutMs: number): Promise<RegistryResponse> {
    const { decide, cancelled } = this.openProbe();
    const https = originWithScheme(this.registry, 'https');
    try {
      const res = await this.sendTo(https, req, timeoutMs);
      decide(https);
      return res;
    } catch (err) {
      if (req.signal?.aborted) throw cancelled(err);
      if (!speaksNoTls(err)) {
        decide(https);
        throw err;
      }
    }
    decide(originWithScheme(this.registry, 'http'));
    return this.sendTo(this.originValue, req, timeoutMs);
  }

  private async sendTo(origin: string, req: RegistryRequest, timeoutMs: number): Promise<RegistryResponse> {
    let url = new URL(req.url, origin);
    let method: HttpMethod = req.method;
    let body = req.body;
    for (let hop = 0; ; hop++) {
      const headers: Record<string, string> = { 'user-agent': USER_AGENT, ...lowerKeys(req.headers) };
      delete headers.authorization;
      if (url.origin === origin && this.authorizer) {
        const authorization = await untilAborted(this.authorizer.authorization(req.scopes, req.deadline), req.signal, () => abortedError(this.registry, req.op));
        if (authorization) headers.authorization = authorization;
      }
      if (body === undefined) delete headers['content-type'];
      if (body === undefined && (method === 'PUT' || method === 'POST' || method === 'PATCH')) headers['content-length'] = '0';
      const payload = typeof body === 'function' ? await body() : body;
      let response: Dispatcher.ResponseData;
      try {
        response = await this.dispatcher.request({
          origin: url.origin,
          path: `${url.pathname}${url.search}`,
          method,
          headers,
          // undici takes async iterables too (writeIterable); its types leave them out.
          body: payload as Dispatcher.RequestOptions['body'],
          headersTimeout: timeoutMs,
          bodyTimeout: this.timeouts.requestMs,
          signal: req.signal,
          // undici closes the connection after every HEAD (for servers that wrongly send a body
          // with its answer) unless told not to: each blob's HEAD was a new connection, and over
          // HTTPS a new handshake. Registries answer HEAD as HTTP says; crane and skopeo (Go)
          // keep the connection too.
          ...(method === 'HEAD' ? { reset: false } : {}),
        });
      } catch (err) {
        releaseBody(payload);
        throw hop > 0 && url.origin !== origin ? new RedirectedRequestFailure(url.host, err) : err;
      }
      const wrapped = wrapResponse(response, url, headers.authorization);
      const redirect = redirectHop(response.statusCode, wrapped.header('location'), url, method);
      if (redirect) {
        await wrapped.dump();
        if (hop >= MAX_REDIRECTS) {
          throw new OcipushError('EREGISTRY', `${this.registry}: ${req.op}: too many redirects`);
        }
        const next = redirect.url;
        // Blob storage on plain HTTP behind an HTTPS registry (S3 or MinIO without TLS) is followed
        // for a GET or HEAD, as docker, skopeo and crane follow it: the Authorization stays with
        // the registry's origin and what comes back is checked against its digest. A body (an
        // upload) is never sent in the clear.
        if (next.protocol === 'http:' && url.protocol === 'https:' && next.origin !== origin && method !== 'GET' && method !== 'HEAD') {
          throw new OcipushError('EREGISTRY', `${this.registry}: ${req.op}: refusing a redirect from HTTPS to plain HTTP (${next.host}) for a request that sends data`);
        }
        // (A HEAD stays a HEAD: made a GET, it would download the blob it only asks after.)
        method = redirect.method as HttpMethod;
        if (!redirect.keepsBody) body = undefined;
        url = next;
        continue;
      }
      return wrapped;
    }
  }
}
