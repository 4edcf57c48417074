import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type { Dispatcher } from 'undici';
import { OcipushError } from '../errors.js';
import { networkErrorCode } from './errors.js';
import { proxyFor, type Proxy, type ProxyEnvironment } from './proxy-env.js';
import { undici, undiciProxyParts } from './undici.js';

/** What every connection pool gets, proxied or not: the connection count and the timeouts. */
export interface PoolSettings {
  connections: number;
  keepAliveTimeout: number;
  keepAliveMaxTimeout: number;
  headersTimeout: number;
  bodyTimeout: number;
}

export interface ProxyRouting {
  environment: ProxyEnvironment;
  pool: PoolSettings;
  /** Connect options for plain TCP connections (the timeout). */
  connect: Record<string, unknown>;
  /** Connect options for TLS to the registry (trust, --insecure), built on first use. */
  tls: () => Record<string, unknown>;
  /** Told of each TLS connection to a registry made inside a tunnel, as the direct connector tells of its own. */
  onTlsSocket?: (socket: Socket) => void;
}

/**
 * Sends each request directly or through the proxy the environment names for its URL, so token
 * services and blob storage the registry redirects to are proxied as Go tools proxy them.
 * https URLs go through a CONNECT tunnel, with the registry's TLS settings applied inside it;
 * http URLs are sent to the proxy in absolute form. The proxy pools are made on first use.
 */
export function proxyDispatcher(direct: Dispatcher, routing: ProxyRouting): Dispatcher {
  const { ProxyAgent, Pool, DecoratorHandler, Dispatcher: Base } = undiciProxyParts();

  /** Turns a refusing or unreachable proxy into one line that names it (never its credentials). */
  class ProxyErrors extends DecoratorHandler {
    /** The request reached a connection: through the tunnel, or to the proxy in absolute form. */
    #started = false;

    constructor(handler: Dispatcher.DispatchHandler, private readonly proxy: Proxy, private readonly target: string, private readonly tunnelled: boolean) {
      super(handler);
    }

    onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
      this.#started = true;
      (DecoratorHandler.prototype as Dispatcher.DispatchHandler).onRequestStart!.call(this, controller, context);
    }

    onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders, statusMessage?: string): void {
      // In absolute form the proxy's refusal is an ordinary response; a registry never sends 407.
      if (statusCode === 407 || isProxysOwn401(statusCode, headers) || isProxysOwnFailure(statusCode, headers)) {
        controller.abort(refusal(this.proxy, this.target, statusCode));
        return;
      }
      (DecoratorHandler.prototype as Dispatcher.DispatchHandler).onResponseStart!.call(this, controller, statusCode, headers, statusMessage);
    }

    onResponseError(controller: Dispatcher.DispatchController, err: Error): void {
      // Before the request has a connection, the one request that waits for headers is the CONNECT:
      // the proxy, not the registry, is silent.
      const silent = this.tunnelled && !this.#started && networkErrorCode(err) === 'UND_ERR_HEADERS_TIMEOUT';
      (DecoratorHandler.prototype as Dispatcher.DispatchHandler).onResponseError!.call(this, controller, silent ? unanswered(this.proxy, this.target) : proxyError(err, this.proxy, this.target));
    }
  }

  let tunnel: Dispatcher | undefined;
  let forward: Dispatcher | undefined;
  const proxyConnect = (proxy: Proxy) => (proxy.origin.startsWith('https:') ? { ...routing.connect, ...routing.tls() } : routing.connect);

  class ProxyRouter extends (Base as unknown as new () => object) {
    dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
      let target: URL;
      let proxy: ReturnType<typeof proxyFor>;
      try {
        target = new URL(String(opts.origin));
        proxy = proxyFor(routing.environment, target);
        if (!proxy) return direct.dispatch(opts, handler);
        if ('error' in proxy) throw proxy.error;
        const wrapped = new ProxyErrors(handler, proxy, target.host, target.protocol === 'https:');
        if (target.protocol === 'https:') {
          tunnel ??= new ProxyAgent({
            uri: proxy.origin,
            token: proxy.authorization,
            ...routing.pool,
            // The CONNECT is asked before the request exists, so only the proxy's own pool can
            // time it: with undici's default (300 s), a proxy that took the connection and never
            // answered held a push past --timeout and --request-timeout. Go gives it a minute.
            clientFactory: (origin: URL, options: object) => new Pool(origin, { ...options, headersTimeout: routing.pool.headersTimeout }),
            proxyTls: proxyConnect(proxy),
            requestTls: { ...routing.connect, ...routing.tls() },
          }) as unknown as Dispatcher;
          if (routing.onTlsSocket) watchTunnelTls(tunnel, routing.onTlsSocket);
          return tunnel.dispatch(opts, wrapped);
        }
        forward ??= new Pool(proxy.origin, { ...routing.pool, connect: undici.buildConnector(proxyConnect(proxy)) }) as unknown as Dispatcher;
        const headers: Record<string, string> = { ...headerObject(opts.headers), host: target.host };
        if (proxy.authorization) headers['proxy-authorization'] = proxy.authorization;
        return forward.dispatch({ ...opts, origin: proxy.origin, path: `${target.origin}${opts.path}`, headers }, wrapped);
      } catch (err) {
        const legacy = handler as { onError?: (err: Error) => void };
        if (typeof legacy.onError === 'function') { legacy.onError(err as Error); return false; }
        throw err;
      }
    }

    async close(): Promise<void> {
      await Promise.all([direct.close(), tunnel?.close(), forward?.close()]);
    }

    async destroy(err?: Error): Promise<void> {
      await Promise.all([direct.destroy(err ?? null), tunnel?.destroy(err ?? null), forward?.destroy(err ?? null)]);
    }
  }
  return new ProxyRouter() as unknown as Dispatcher;
}

/** undici 7's ProxyAgent keeps the connector of the TLS inside its tunnels under this symbol. */
export const TUNNEL_TLS_CONNECTOR = 'connect endpoint function';

/**
 * Hands each TLS socket the ProxyAgent opens inside a tunnel to `watch`, before undici reads from
 * it: without it, a registry that ends the handshake with an alert (it wants a client
 * certificate) reached the user through a proxy as "connection reset", retried five times,
 * where the same registry reached directly is named with the certificate it wants. The connector
 * is undici's private field; should a later undici move it, nothing is watched
 * (test/registry/undici.test.ts notices).
 */
function watchTunnelTls(agent: Dispatcher, watch: (socket: Socket) => void): void {
  const fields = agent as unknown as Record<symbol, unknown>;
  const key = Object.getOwnPropertySymbols(agent).find((s) => s.description === TUNNEL_TLS_CONNECTOR);
  const connect = key === undefined ? undefined : fields[key];
  if (typeof connect !== 'function') return;
  fields[key!] = (opts: unknown, callback: (err: Error | null, socket: Socket | null) => void) =>
    (connect as (o: unknown, c: typeof callback) => unknown)(opts, (err, socket) => {
      if (socket) watch(socket);
      callback(err, socket);
    });
}

function headerObject(headers: Dispatcher.DispatchOptions['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  if (!headers) return out;
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2) out[String(headers[i]).toLowerCase()] = String(headers[i + 1]);
    return out;
  }
  for (const [k, v] of Object.entries(headers as Record<string, unknown>)) if (v !== undefined) out[k.toLowerCase()] = String(v);
  return out;
}

/**
 * A 401 the proxy wrote itself: tinyproxy before 1.12 answers wrong proxy credentials with 401 and
 * a WWW-Authenticate (not 407 and Proxy-Authenticate), naming itself in `Server` and its realm;
 * any 401 with a Proxy-Authenticate is a proxy's. A registry says neither.
 */
function isProxysOwn401(statusCode: number, headers: IncomingHttpHeaders): boolean {
  if (statusCode !== 401) return false;
  const h = lowerHeaders(headers);
  if (h['proxy-authenticate'] !== undefined) return true;
  return /^tinyproxy\b/i.test(h.server ?? '') && /realm="?tinyproxy"?/i.test(h['www-authenticate'] ?? '');
}

/**
 * A 5xx the proxy wrote itself because it could not reach the registry (in absolute form it is an
 * ordinary response): tinyproxy's error page names it in `Server`, squid's carries `X-Squid-Error`.
 * A registry's own 5xx passes through with neither.
 */
function isProxysOwnFailure(statusCode: number, headers: IncomingHttpHeaders): boolean {
  if (statusCode < 500) return false;
  const h = lowerHeaders(headers);
  return h['x-squid-error'] !== undefined || /^(?:tinyproxy|squid)\b/i.test(h.server ?? '');
}

function lowerHeaders(headers: IncomingHttpHeaders): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(headers ?? {})) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v === undefined ? undefined : String(v);
  return out;
}

const STATUS_TEXT: Record<number, string> = { 401: 'Unauthorized', 403: 'Forbidden', 407: 'Proxy Authentication Required', 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout' };

function refusal(proxy: Proxy, target: string, status: number): OcipushError {
  const credentials = status === 407 || status === 401;
  let hint = '';
  if (credentials) hint = proxy.authorization ? ` (the credentials in ${proxy.variable} were refused)` : ` (give credentials in ${proxy.variable}: http://user:password@host:port)`;
  // A 5xx of the proxy's own is its failure to reach the host (tinyproxy answers 500 to a name it cannot resolve), not a refusal.
  const what = status >= 500 ? 'could not reach' : 'refused';
  return new OcipushError(credentials ? 'EAUTH' : 'ENETWORK', `proxy ${proxy.display} (from ${proxy.variable}) ${what} ${target}: ${status} ${STATUS_TEXT[status] ?? 'error'}${hint}`, {
    proxy: proxy.display,
    status,
    // A gateway error is the proxy failing to reach the registry: worth another try.
    retryable: status >= 500,
  });
}

function unanswered(proxy: Proxy, target: string): OcipushError {
  return new OcipushError('ENETWORK', `proxy ${proxy.display} (from ${proxy.variable}) did not answer the CONNECT to ${target} in time (--request-timeout)`, {
    proxy: proxy.display,
    networkCode: 'UND_ERR_HEADERS_TIMEOUT',
    retryable: true,
  });
}

/** Failures to connect: the proxy is the only host a proxied request connects to. */
const CONNECT_REASONS: Record<string, { reason: string; retryable: boolean }> = {
  ECONNREFUSED: { reason: 'connection refused', retryable: false },
  ENOTFOUND: { reason: 'unknown host', retryable: false },
  EAI_NONAME: { reason: 'unknown host', retryable: false },
  EAI_AGAIN: { reason: 'unknown host', retryable: true },
  ETIMEDOUT: { reason: 'connection timed out', retryable: true },
  UND_ERR_CONNECT_TIMEOUT: { reason: 'connection timed out', retryable: true },
  ENETUNREACH: { reason: 'network unreachable', retryable: true },
  EHOSTUNREACH: { reason: 'network unreachable', retryable: true },
};

function proxyError(err: Error, proxy: Proxy, target: string): Error {
  if (err instanceof OcipushError) return err;
  // undici's ProxyAgent reports a refused CONNECT only in its message. Any status there is the
  // proxy's own (tinyproxy before 1.12 answers wrong credentials with 401 rather than 407).
  const tunnelStatus = /Proxy response \((\d{3})\) !== 200/.exec(err?.message ?? '');
  if (tunnelStatus) return refusal(proxy, target, Number(tunnelStatus[1]));
  const code = networkErrorCode(err);
  const known = code ? CONNECT_REASONS[code] : undefined;
  if (!known) return err;
  return new OcipushError('ENETWORK', `cannot reach proxy ${proxy.display} (from ${proxy.variable}): ${known.reason}`, {
    proxy: proxy.display,
    networkCode: code,
    retryable: known.retryable,
  });
}
