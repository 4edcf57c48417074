import { createRequire } from 'node:module';
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
 * the parts and attaches the request API to Dispatcher as undici's own index does. Should a later
 * version move them, the whole package is loaded instead (test/registry/undici.test.ts notices).
 */
function load(): UndiciParts {
  try {
    const Dispatcher = require('undici/lib/dispatcher/dispatcher.js');
    const api = require('undici/lib/api/index.js');
    const Agent = require('undici/lib/dispatcher/agent.js');
    const buildConnector = require('undici/lib/core/connect.js');
    if (typeof api.request === 'function' && typeof Agent === 'function' && typeof buildConnector === 'function' && typeof Dispatcher === 'function') {
      if (Dispatcher.prototype.request !== api.request) Object.assign(Dispatcher.prototype, api);
      return { Agent, buildConnector, loadedFrom: 'parts' };
    }
  } catch {
    // moved: load the package whole
  }
  const whole = require('undici') as typeof Undici;
  return { Agent: whole.Agent, buildConnector: whole.buildConnector, loadedFrom: 'package' };
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
      if ([ProxyAgent, Pool, DecoratorHandler, Dispatcher].every((c) => typeof c === 'function')) {
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
