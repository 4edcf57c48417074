import type { RegistryClient, RegistryRequest, RegistryResponse } from './http.js';
import { OcipushError } from '../errors.js';
import { registryError } from './errors.js';

/** Answers a web server gives to registry paths it does not serve. */
const NOT_SERVED = new Set([404, 405, 501]);

/**
 * Whether this answer shows the host speaks the registry API; when it cannot tell (a 404, 405 or
 * 501 without distribution's `Docker-Distribution-API-Version` header), it asks `GET /v2/` once.
 * A push or pull no longer begins with `GET /v2/` (a re-push is one request), so a host that is no
 * registry at all would otherwise be reported by whatever its first answer looked like: "manifest
 * not found", "start upload: 501". Throws that `GET /v2/`'s error (EREGISTRY) when it is not 200 or 401.
 * A 400 without an error document to a plain-HTTP request is asked about the same way: a TLS
 * server's answer to plain HTTP (--plain-http to a registry that speaks HTTPS) is ENETWORK naming that.
 */
export async function confirmRegistry(client: RegistryClient, res: RegistryResponse, req: RegistryRequest): Promise<boolean> {
  if (res.header('docker-distribution-api-version') !== undefined || res.status < 400) return true;
  const ours = res.url.origin === client.origin;
  // A 400 without an error document to a plain-HTTP request: maybe a TLS server's answer.
  const plainAnswer = res.status === 400 && ours && client.origin.startsWith('http:') && !/json/i.test(res.header('content-type') ?? '');
  if (req.url === '/v2/') {
    // Read here (the caller's line would show only "400 Bad Request"); GET /v2/ is the probe itself.
    const body = plainAnswer ? await res.text(4096) : '';
    if (TLS_SERVER_ANSWER.test(body)) throw speaksHttps(client.registry, body);
    return true;
  }
  // Another host's answer (a foreign layer's URL, a redirect to storage) says nothing of the registry.
  if (!(NOT_SERVED.has(res.status) || plainAnswer) || !ours) return false;
  const op = 'check the registry API (GET /v2/)';
  const probe = await client.request({ method: 'GET', url: '/v2/', op, scopes: [], retry: false, accept: () => true, signal: req.signal, deadline: req.deadline });
  if (probe.status === 200 || probe.status === 401) {
    await probe.dump();
    return true;
  }
  const body = await probe.text();
  await res.dump();
  // Never ENOTFOUND: the caller would read it as its own "manifest not found".
  const err = registryError(client.registry, op, probe.status, body);
  throw new OcipushError('EREGISTRY', `${err.message} (is it a container registry?)`, { ...err.details, registry: client.registry });
}

/**
 * What a TLS server says to a plain-HTTP request on its port, with a 400 (and no registry error
 * document): Go's net/http (distribution, zot, Harbor's core) and nginx.
 */
const TLS_SERVER_ANSWER = /[^.<>]*(?:HTTP request to an HTTPS server|plain HTTP request was sent to HTTPS port)\.?/i;

/** --plain-http (or plainHttp) to a registry that speaks HTTPS: said so, not "400 Bad Request". */
function speaksHttps(registry: string, body: string): OcipushError {
  const answer = TLS_SERVER_ANSWER.exec(body)![0].trim();
  return new OcipushError('ENETWORK', `${registry} speaks HTTPS, not plain HTTP (it answered a plain request with 400 "${answer}"): leave out --plain-http`, { status: 400, registry });
}
