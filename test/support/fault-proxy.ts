import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

/**
 * A plain HTTP reverse proxy in front of a real registry that misbehaves on request, the way
 * load balancers, CDNs and hosted registries do. Bodies stream through; nothing is buffered.
 */

export type Fault =
  /** Answer with this status (and headers/body) instead of forwarding. The request body is read and dropped first. */
  | { kind: 'respond'; status: number; headers?: Record<string, string>; body?: string }
  /** Forward the first `afterBytes` bytes of the request body, then drop both connections (a network cut mid-upload). */
  | { kind: 'cut-request'; afterBytes: number }
  /** Forward the upstream response's head and first `afterBytes` body bytes, then drop the client connection. */
  | { kind: 'cut-response'; afterBytes: number }
  /**
   * Refuse request bodies larger than `maxBytes` with `status` (default 413), like a CDN's upload
   * cap. A known Content-Length is judged before forwarding; a chunked body is forwarded until it
   * passes the cap, then the upstream request is aborted and the rest is dropped.
   */
  | { kind: 'max-body'; maxBytes: number; status?: number }
  /**
   * Answer `status` with a registry error whose message echoes the request as received: method,
   * target and every header, Authorization included (a misconfigured server or a hostile one).
   */
  | { kind: 'echo'; status: number }
  /** Forward the upstream response, with the byte at `atByte` of its body changed (a source serving corrupt content). */
  | { kind: 'corrupt-response'; atByte: number }
  /**
   * Forward the request, and the registry's answer with its headers and body, under another
   * status: what registries that did the same work answer (Quay's 202 to a manifest PUT).
   */
  | { kind: 'rewrite-status'; status: number }
  /** Forward the request without this header (a server or CDN that ignores `Range`, say). */
  | { kind: 'drop-header'; name: string }
  /**
   * Forward the request with this header set to what `value` makes of the client's (a cache or
   * storage in front answering another range than the one asked for); undefined leaves it out.
   */
  | { kind: 'request-header'; name: string; value: (value: string | undefined) => string | undefined }
  /**
   * Forward the registry's answer with this header set to `value`, or left out without one (a
   * proxy that drops HEAD's Content-Length); a function is given the header as the client would
   * have got it (after the proxy's own Location rewrite) and the request's headers, and returns
   * what it gets instead.
   */
  | { kind: 'response-header'; name: string; value?: string | HeaderRewrite }
  /**
   * Forward the request, but hold the registry's answer back until a request whose target matches
   * `until` has reached the proxy (before this one or after it, since the requests were last
   * cleared), or `timeoutMs` passed: whether a client sends that request without waiting for this
   * answer (what it does in parallel, told apart without timing it). The record's `released` says
   * which it was.
   */
  | { kind: 'hold-response'; until: RegExp; timeoutMs: number }
  /**
   * Run `before` before the request goes on, and `after` once the registry has answered, before
   * the client hears it: the registry's storage put, for that one request, in a state another
   * writer leaves for an instant (a link file mid-rewrite), so its real answer to that state is
   * what the client gets. `before` is given the request's headers and target (which chunk a PATCH carries, which blob a PUT closes).
   */
  | { kind: 'around'; before: (headers: http.IncomingHttpHeaders, target: string) => Promise<void> | void; after: () => Promise<void> | void };

/** A response header's new value from its value as the registry gave it and the request's headers. */
export type HeaderRewrite = (value: string | undefined, request: http.IncomingHttpHeaders) => string | undefined;

export interface FaultRule {
  /** Matches any method when absent (compared case-insensitively). */
  method?: string;
  /** Tested against the request target, query included (e.g. `/v2/app/blobs/uploads/…?_state=…`). Any path when absent. */
  path?: RegExp;
  /** Let this many matching requests through untouched first (default 0). */
  skip?: number;
  /** How many times the fault fires (default 1, except `max-body`: Infinity). */
  times?: number;
  fault: Fault;
}

/** One request through the proxy. */
export interface ProxiedRequest {
  method: string;
  /** The request target, query included, as the client sent it. */
  path: string;
  /** The status the client got; undefined when the connection was cut before a response. */
  status?: number;
  /** Request body bytes received from the client. */
  requestBytes: number;
  /** Request body bytes passed on to the target (less than requestBytes after a cut or a cap). */
  forwardedBytes: number;
  /** Response body bytes sent to the client. */
  responseBytes: number;
  /** The fault applied to this request, if any. */
  fault?: Fault['kind'];
  /** Request headers, with Authorization and Cookie values replaced by "<redacted>". */
  requestHeaders: Record<string, string | string[] | undefined>;
  /** Set when the proxy could not reach the target or a connection broke. */
  error?: string;
  /** For a `hold-response` fault: what let the answer go, the awaited request or the timeout. */
  released?: 'match' | 'timeout';
}

export interface FaultProxy {
  /** `127.0.0.1:PORT`, for image references. */
  host: string;
  url: string;
  port: number;
  addFault(rule: FaultRule): void;
  clearFaults(): void;
  /** Rules that have not fired all their times yet. */
  pendingFaults(): FaultRule[];
  requests(): ProxiedRequest[];
  clearRequests(): void;
  stop(): Promise<void>;
}

export interface FaultProxyOptions {
  /** The registry's base URL (`http://127.0.0.1:PORT`); plain HTTP only. */
  target: string;
  faults?: FaultRule[];
  /** Serve HTTPS with this certificate and key (PEM files): a TLS-terminating proxy in front of a plain-HTTP registry. */
  tls?: { certFile: string; keyFile: string };
}

/** Shorthand: answer `status` once (or `times`) for matching requests. */
export function failWith(status: number, match: Omit<FaultRule, 'fault'> = {}, headers?: Record<string, string>): FaultRule {
  return { ...match, fault: { kind: 'respond', status, headers } };
}

/** Shorthand: 429 Too Many Requests with `Retry-After`. */
export function tooManyRequests(retryAfterSeconds = 1, match: Omit<FaultRule, 'fault'> = {}): FaultRule {
  return failWith(429, match, { 'retry-after': String(retryAfterSeconds) });
}

interface RuleState {
  rule: FaultRule;
  seen: number;
  fired: number;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'te', 'trailer', 'upgrade']);

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(options.target);
  if (target.protocol !== 'http:') throw new Error(`fault proxy target must be http://, got ${options.target}`);
  const targetOrigin = target.origin;
  let rules: RuleState[] = (options.faults ?? []).map((rule) => ({ rule, seen: 0, fired: 0 }));
  const log: ProxiedRequest[] = [];
  const agent = new http.Agent({ keepAlive: true });
  let proxyOrigin = '';
  /** Answers held back by `hold-response` faults, each waiting for a request that matches. */
  const holds = new Set<{ until: RegExp; release: (why: 'match' | 'timeout') => void }>();

  const handle = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    for (const hold of holds) if (hold.until.test(req.url ?? '/')) hold.release('match');
    const record: ProxiedRequest = {
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      requestBytes: 0,
      forwardedBytes: 0,
      responseBytes: 0,
      requestHeaders: redact(req.headers),
    };
    log.push(record);
    // A body cap is a standing condition, so it combines with at most one other fault.
    const cap = pickRule(rules, req, (kind) => kind === 'max-body');
    const state = pickRule(rules, req, (kind) => kind !== 'max-body');
    const fault = state?.rule.fault;
    if (state && fault) {
      state.fired++;
      record.fault = fault.kind;
    }
    if (fault?.kind === 'respond') return drainThenRespond(req, res, record, fault.status, fault.headers, fault.body);
    if (fault?.kind === 'echo') {
      const echo = `${req.method} ${req.url} ${Object.entries(req.headers).map(([k, v]) => `${k}: ${String(v)}`).join('; ')}`;
      return drainThenRespond(req, res, record, fault.status, undefined, JSON.stringify({ errors: [{ code: 'DENIED', message: `request was: ${echo}` }] }), 'application/json');
    }
    const capFault = cap?.rule.fault.kind === 'max-body' ? cap.rule.fault : undefined;
    if (cap && capFault) {
      const declared = Number(req.headers['content-length'] ?? NaN);
      if (declared > capFault.maxBytes) {
        if (state) state.fired--; // the other fault never got its chance
        cap.fired++;
        record.fault = 'max-body';
        return drainThenRespond(req, res, record, capFault.status ?? 413, undefined, 'request entity too large\n');
      }
    }
    if (fault?.kind === 'around') {
      void Promise.resolve().then(() => fault.before(req.headers, req.url ?? '/')).then(
        () => forward(req, res, record, { beforeAnswer: fault.after }),
        (err: Error) => { record.error = `around fault: ${err.message}`; drainThenRespond(req, res, record, 502, undefined, `fault proxy: ${err.message}\n`); },
      );
      return;
    }
    forward(req, res, record, {
      cutRequest: fault?.kind === 'cut-request' && state ? { rule: state, afterBytes: fault.afterBytes } : undefined,
      cutResponseAfter: fault?.kind === 'cut-response' ? fault.afterBytes : undefined,
      corruptAt: fault?.kind === 'corrupt-response' ? fault.atByte : undefined,
      status: fault?.kind === 'rewrite-status' ? fault.status : undefined,
      dropHeader: fault?.kind === 'drop-header' ? fault.name.toLowerCase() : undefined,
      askHeader: fault?.kind === 'request-header' ? { name: fault.name.toLowerCase(), value: fault.value } : undefined,
      answerHeader: fault?.kind === 'response-header' ? { name: fault.name.toLowerCase(), value: fault.value } : undefined,
      maxBody: cap && capFault ? { rule: cap, limit: capFault.maxBytes, status: capFault.status ?? 413 } : undefined,
      held: fault?.kind === 'hold-response' ? holdUntil(fault.until, fault.timeoutMs, record) : undefined,
    });
  };
  const server = options.tls
    ? https.createServer({ cert: readFileSync(options.tls.certFile), key: readFileSync(options.tls.keyFile) }, handle)
    : http.createServer(handle);

  /** A gate opened by the first later request matching `until`, or by the timeout. */
  function holdUntil(until: RegExp, timeoutMs: number, record: ProxiedRequest): Promise<void> {
    return new Promise((resolve) => {
      if (log.some((r) => r !== record && until.test(r.path))) {
        record.released = 'match';
        return resolve();
      }
      const hold = {
        until,
        release: (why: 'match' | 'timeout') => {
          if (!holds.delete(hold)) return;
          clearTimeout(timer);
          record.released = why;
          resolve();
        },
      };
      const timer = setTimeout(() => hold.release('timeout'), timeoutMs);
      holds.add(hold);
    });
  }

  function forward(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    record: ProxiedRequest,
    plan: { cutRequest?: { rule: RuleState; afterBytes: number }; cutResponseAfter?: number; corruptAt?: number; status?: number; dropHeader?: string; askHeader?: { name: string; value: (value: string | undefined) => string | undefined }; answerHeader?: { name: string; value?: string | HeaderRewrite }; maxBody?: { rule: RuleState; limit: number; status: number }; held?: Promise<void>; beforeAnswer?: () => Promise<void> | void },
  ): void {
    const headers: http.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (!HOP_BY_HOP.has(name) && name !== plan.dropHeader) headers[name] = value;
    }
    // Like a real reverse proxy: the registry sees its own host, and Location headers naming it
    // are rewritten back so clients keep talking to the proxy.
    headers.host = target.host;
    if (plan.askHeader) {
      const given = req.headers[plan.askHeader.name];
      const next = plan.askHeader.value(typeof given === 'string' ? given : undefined);
      if (next === undefined) delete headers[plan.askHeader.name];
      else headers[plan.askHeader.name] = next;
    }
    const upstream = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent });
    // `cut`: both connections are being dropped; `stopForwarding`: no more request bytes go upstream.
    let cut = false;
    let stopForwarding = false;
    let overLimit = false;
    const cutAll = (reason: string) => {
      if (cut) return;
      cut = true;
      record.error ??= reason;
      upstream.destroy();
      req.socket.destroy();
    };

    upstream.on('response', (up) => {
      const gate = plan.held ?? (plan.beforeAnswer ? Promise.resolve().then(plan.beforeAnswer) : undefined);
      if (gate) void gate.then(() => answer(up), (err: Error) => cutAll(`around fault: ${err.message}`));
      else answer(up);
    });
    const answer = (up: http.IncomingMessage) => {
      if (cut || overLimit) return void up.resume();
      const outHeaders: http.OutgoingHttpHeaders = {};
      for (const [name, value] of Object.entries(up.headers)) {
        if (HOP_BY_HOP.has(name)) continue;
        outHeaders[name] = name === 'location' && typeof value === 'string' && value.startsWith(targetOrigin)
          ? proxyOrigin + value.slice(targetOrigin.length)
          : value;
      }
      if (plan.answerHeader) {
        const { name, value } = plan.answerHeader;
        const now = outHeaders[name];
        const next = typeof value === 'function' ? value(typeof now === 'string' ? now : undefined, req.headers) : value;
        if (next === undefined) delete outHeaders[name];
        else outHeaders[name] = next;
      }
      const status = plan.status ?? up.statusCode ?? 502;
      record.status = status;
      res.writeHead(status, plan.status === undefined ? up.statusMessage : undefined, outHeaders);
      const cutAfter = plan.cutResponseAfter;
      if (cutAfter !== undefined && cutAfter <= 0) {
        up.resume();
        res.flushHeaders();
        return void setImmediate(() => cutAll('cut-response fault'));
      }
      up.on('data', (original: Buffer) => {
        if (cut) return;
        let chunk = original;
        const at = plan.corruptAt;
        if (at !== undefined && at >= record.responseBytes && at < record.responseBytes + chunk.length) {
          chunk = Buffer.from(original);
          chunk[at - record.responseBytes] ^= 0xff;
        }
        if (cutAfter !== undefined && record.responseBytes + chunk.length >= cutAfter) {
          const piece = chunk.subarray(0, cutAfter - record.responseBytes);
          record.responseBytes += piece.length;
          record.error = 'cut-response fault';
          cut = true;
          up.destroy();
          res.write(piece, () => req.socket.destroy());
          return;
        }
        record.responseBytes += chunk.length;
        if (!res.write(chunk)) {
          up.pause();
          res.once('drain', () => up.resume());
        }
      });
      up.on('end', () => { if (!cut) res.end(); });
      up.on('error', (err) => cutAll(`upstream response broke: ${err.message}`));
    };

    upstream.on('error', (err) => {
      if (cut || overLimit) return;
      if (res.writableFinished) {
        // The registry answered early (e.g. 401 to a big PUT) and dropped the rest of the body.
        stopForwarding = true;
        req.resume();
      } else if (!res.headersSent) {
        record.error = `cannot reach ${targetOrigin}: ${err.message}`;
        record.status = 502;
        stopForwarding = true;
        req.resume();
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`fault proxy: ${record.error}\n`);
      } else {
        cutAll(`upstream broke: ${err.message}`);
      }
    });

    req.on('data', (chunk: Buffer) => {
      record.requestBytes += chunk.length;
      if (cut || overLimit || stopForwarding) return;
      if (plan.maxBody && record.requestBytes > plan.maxBody.limit) {
        // Past the cap: abandon the upstream request and keep reading only to answer cleanly.
        overLimit = true;
        plan.maxBody.rule.fired++;
        if (plan.cutRequest) plan.cutRequest.rule.fired--; // the cut never happened
        record.fault = 'max-body';
        upstream.destroy();
        return;
      }
      const cutAfter = plan.cutRequest?.afterBytes;
      if (cutAfter !== undefined && record.requestBytes >= cutAfter) {
        const piece = chunk.subarray(0, cutAfter - (record.requestBytes - chunk.length));
        stopForwarding = true;
        record.forwardedBytes += piece.length;
        req.pause();
        // Cut only once the allowed bytes are on their way, so the registry really received them.
        upstream.write(piece, () => cutAll('cut-request fault'));
        return;
      }
      record.forwardedBytes += chunk.length;
      if (!upstream.write(chunk)) {
        req.pause();
        upstream.once('drain', () => req.resume());
      }
    });
    req.on('end', () => {
      if (cut || stopForwarding) return;
      if (plan.cutRequest) {
        // The body was shorter than the cut point: nothing was cut, so the firing is given back.
        plan.cutRequest.rule.fired--;
        record.fault = undefined;
      }
      if (overLimit && plan.maxBody) {
        record.status = plan.maxBody.status;
        res.writeHead(plan.maxBody.status, { 'content-type': 'text/plain', connection: 'close' });
        res.end('request entity too large\n');
        return;
      }
      upstream.end();
    });
    req.on('error', (err) => cutAll(`client request broke: ${err.message}`));
    res.on('close', () => {
      if (!res.writableFinished && !cut) cutAll('client went away');
    });
    if (plan.cutRequest && plan.cutRequest.afterBytes <= 0) {
      stopForwarding = true;
      upstream.flushHeaders();
      setImmediate(() => cutAll('cut-request fault'));
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  proxyOrigin = `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  let stopped: Promise<void> | undefined;
  return {
    host: `127.0.0.1:${port}`,
    url: proxyOrigin,
    port,
    addFault: (rule) => { rules.push({ rule, seen: 0, fired: 0 }); },
    clearFaults: () => { rules = []; },
    pendingFaults: () => rules.filter((s) => s.fired < timesOf(s.rule)).map((s) => s.rule),
    requests: () => log.map((r) => ({ ...r })),
    clearRequests: () => { log.length = 0; },
    stop() {
      stopped ??= (async () => {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        agent.destroy();
      })();
      return stopped;
    },
  };
}

function timesOf(rule: FaultRule): number {
  return rule.times ?? (rule.fault.kind === 'max-body' ? Infinity : 1);
}

/** The first rule of the wanted kind that matches and still has firings left, after its `skip` is used up. */
function pickRule(rules: RuleState[], req: http.IncomingMessage, wanted: (kind: Fault['kind']) => boolean): RuleState | undefined {
  for (const state of rules) {
    const { rule } = state;
    if (!wanted(rule.fault.kind)) continue;
    if (rule.method && rule.method.toUpperCase() !== req.method) continue;
    if (rule.path && !rule.path.test(req.url ?? '/')) continue;
    if (state.fired >= timesOf(rule)) continue;
    state.seen++;
    if (state.seen <= (rule.skip ?? 0)) continue;
    return state;
  }
  return undefined;
}

function drainThenRespond(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  record: ProxiedRequest,
  status: number,
  headers: Record<string, string> | undefined,
  body: string | undefined,
  contentType?: string,
): void {
  req.on('data', (chunk: Buffer) => { record.requestBytes += chunk.length; });
  req.on('error', (err) => { record.error = `client request broke: ${err.message}`; });
  req.on('end', () => {
    const text = body ?? JSON.stringify({ errors: [{ code: 'UNKNOWN', message: `fault proxy: injected ${status}` }] });
    record.status = status;
    record.responseBytes = Buffer.byteLength(text);
    res.writeHead(status, { 'content-type': contentType ?? (body === undefined ? 'application/json' : 'text/plain'), 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
  });
}

function redact(headers: http.IncomingHttpHeaders): Record<string, string | string[] | undefined> {
  const out: Record<string, string | string[] | undefined> = {};
  for (const [name, value] of Object.entries(headers)) {
    out[name] = name === 'authorization' || name === 'cookie' ? '<redacted>' : value;
  }
  return out;
}
