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
