import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { RegistryResponse, RequestBody } from './http.js';

/** The plumbing of registry/http.ts: bodies, headers and responses. */

/** A body the failed request may not have finished: a stream is destroyed, a generator returned (its finally closes its file). */
export function releaseBody(payload: Buffer | RequestBody | undefined): void {
  if (payload === undefined || Buffer.isBuffer(payload)) return;
  if (typeof (payload as Readable).destroy === 'function') (payload as Readable).destroy();
  else void (payload as Partial<AsyncGenerator<Uint8Array>>).return?.(undefined).catch(() => {});
}

export function definedOnly<T extends object>(value: T | undefined): Partial<T> {
  return Object.fromEntries(Object.entries(value ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export function lowerKeys(headers: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) out[k.toLowerCase()] = v;
  return out;
}

export function wrapResponse(response: Dispatcher.ResponseData, url: URL, sentAuthorization: string | undefined): RegistryResponse {
  const header = (name: string): string | undefined => {
    const v = response.headers[name.toLowerCase()];
    return Array.isArray(v) ? v[0] : v;
  };
  const headerAll = (name: string): string[] => {
    const v = response.headers[name.toLowerCase()];
    return v === undefined ? [] : Array.isArray(v) ? v : [v];
  };
  return {
    status: response.statusCode,
    sentAuthorization,
    url,
    header,
    headerAll,
    body: response.body,
    async text(limit = 1 << 20) {
      let out = '';
      try {
        for await (const chunk of response.body) {
          out += (chunk as Buffer).toString('utf8');
          if (out.length > limit) { response.body.destroy(); break; }
        }
      } catch {
        // An error body cut short still explains what it can.
      }
      return out;
    },
    async dump() {
      try { await response.body.dump({ limit: 1 << 20 }); } catch { /* connection discarded instead */ }
    },
  };
}
