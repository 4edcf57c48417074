import { Module, createRequire } from 'node:module';
import type * as Undici from 'undici';

const require = createRequire(import.meta.url);

export interface UndiciParts {
  Agent: typeof Undici.Agent;
  buildConnector: typeof Undici.buildConnector;
  /** `parts` when loaded piecemeal, `package` when a later undici moved its files. */
  loadedFrom: 'parts' | 'package';
}

/**
 * undici's index loads fetch, WebSocket, cookies, caches and mocks as well: about 50 ms more at
 * start-up than the connection pool and its request() that ocipush uses, for every command that
 * talks to a registry. undici has no exports map, so its files are open to require; this loads
 * the parts and attaches request() to Dispatcher as undici's own index does (the other calls,
 * stream, pipeline, upgrade and connect, come with the proxy parts, whose CONNECT needs them).
 * Should a later version move them, the whole package is loaded instead
 * (test/registry/undici.test.ts notices).
 */
function load(): UndiciParts {
  try {
    withoutHttp2();
    const Dispatcher = require('undici/lib/dispatcher/dispatcher.js');
    const request = require('undici/lib/api/api-request.js');
    const Agent = require('undici/lib/dispatcher/agent.js');
    const buildConnector = require('undici/lib/core/connect.js');
    if (typeof request === 'function' && typeof Agent === 'function' && typeof buildConnector === 'function' && typeof Dispatcher === 'function') {
      if (typeof Dispatcher.prototype.request !== 'function') Dispatcher.prototype.request = request;
      return { Agent, buildConnector, loadedFrom: 'parts' };
    }
  } catch {
    // moved: load the package whole
  }
  const whole = require('undici') as typeof Undici;
  return { Agent: whole.Agent, buildConnector: whole.buildConnector, loadedFrom: 'package' };
}

/** Where undici keeps the HTTP/2 half of its Client. */
export const UNDICI_H2_MODULE = 'undici/lib/dispatcher/client-h2.js';

/**
 * undici's Client loads its HTTP/2 half (client-h2.js) up front, and with it node:http2 and
 * node:tls: 12 ms of CPU at every start on Node 24 (2 ms on Node 20), for a protocol ocipush
 * never speaks. undici offers HTTP/2 only to a dispatcher made with `allowH2` (its connector's
 * ALPN then lists h2), which ocipush never sets, so a TLS server can never pick it. A stand-in
 * takes the module's place in require's cache before the Client loads: should it ever be called
 * (an undici that offered h2 by default), the connection fails with a clear error instead.
 * test/registry/undici.test.ts checks that the real module is still what is replaced (one
 * function) and that talking to a registry loads no node:http2. Left alone when the module is
 * already loaded (the whole package, by someone else).
 */
function withoutHttp2(): void {
  const path = require.resolve(UNDICI_H2_MODULE);
  if (require.cache[path]) return;
  const stand = new Module(path);
  stand.filename = path;
  stand.loaded = true;
  stand.exports = function connectH2(): never {
    throw new Error('the server chose HTTP/2, which ocipush does not offer (undici would need allowH2)');
  };
  require.cache[path] = stand;
}

export const undici: UndiciParts = load();

export interface UndiciProxyParts {
  ProxyAgent: typeof Undici.ProxyAgent;
  Pool: typeof Undici.Pool;
  DecoratorHandler: typeof Undici.DecoratorHandler;
  /** The base class whose prototype carries request(); a router extends it. */
  Dispatcher: typeof Undici.Dispatcher;
  loadedFrom: 'parts' | 'package';
}

let proxyParts: UndiciProxyParts | undefined;

/**
 * The proxy agent and what it pulls in (SOCKS, pools), loaded only when a proxy variable is set:
 * start-up without one costs nothing more.
 */
export function undiciProxyParts(): UndiciProxyParts {
  if (proxyParts) return proxyParts;
  if (undici.loadedFrom === 'parts') {
    try {
      const ProxyAgent = require('undici/lib/dispatcher/proxy-agent.js');
      const Pool = require('undici/lib/dispatcher/pool.js');
      const DecoratorHandler = require('undici/lib/handler/decorator-handler.js');
      const Dispatcher = require('undici/lib/dispatcher/dispatcher.js');
      // CONNECT through the proxy is Dispatcher.connect: the rest of the request API, as undici's index attaches it.
      const api = require('undici/lib/api/index.js');
      if ([ProxyAgent, Pool, DecoratorHandler, Dispatcher].every((c) => typeof c === 'function') && typeof api.connect === 'function') {
        for (const [name, fn] of Object.entries(api)) if (typeof Dispatcher.prototype[name] !== 'function') Dispatcher.prototype[name] = fn;
        proxyParts = { ProxyAgent, Pool, DecoratorHandler, Dispatcher, loadedFrom: 'parts' };
        return proxyParts;
      }
    } catch {
      // moved: take them from the package
    }
  }
  const whole = require('undici') as typeof Undici;
  proxyParts = { ProxyAgent: whole.ProxyAgent, Pool: whole.Pool, DecoratorHandler: whole.DecoratorHandler, Dispatcher: whole.Dispatcher, loadedFrom: 'package' };
  return proxyParts;
}
