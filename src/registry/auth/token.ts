import type { Dispatcher } from 'undici';
import { undici } from '../undici.js';
import { OcipushError } from '../../errors.js';
import { noCredentialsError } from './policy.js';
import { hasBasic, basicAuthorization, scrub, secretsOf } from './secret.js';
import type { Credentials } from './types.js';
import { registerSecret } from '../../redact.js';
import { isRetryableStatus, retryAfterNote, retryAfterPastDeadline, retryDelay, sleep, type RetryPolicy } from '../retry.js';
import { isTransientNetworkError, networkReason } from '../errors.js';
import { abortedError } from '../cancel.js';
import { MAX_REDIRECTS, redirectHop } from '../redirects.js';

/** For a caller that passes no connection pool (the registry client always passes its own). */
let fallbackDispatcher: Dispatcher | undefined;

/**
 * One token request to a Bearer realm (the Docker token protocol): GET with Basic credentials, or
 * the OAuth2 POST with a refresh token when the user has an identity token, as docker does.
 */
export interface TokenRequest {
  registry: string;
  realm: URL;
  service?: string;
  scopes: string[];
  credentials?: Credentials;
  dispatcher?: Dispatcher;
  userAgent?: string;
  /** Cancels the request, and the retries of fetchTokenRetrying and their waits: EABORTED. */
  signal?: AbortSignal;
}

export interface IssuedToken {
  token: string;
  /** Lifetime in milliseconds, as the issuer stated it (60 s when it did not). */
  lifetimeMs: number;
}

const DEFAULT_LIFETIME_S = 60;
const MAX_BODY = 1024 * 1024;
const CLIENT_ID = 'ocipush';

export async function fetchToken(req: TokenRequest): Promise<IssuedToken> {
  const { realm, credentials } = req;
  if (req.signal?.aborted) throw tokenAborted(req);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (req.userAgent) headers['user-agent'] = req.userAgent;
  let method: 'GET' | 'POST' = 'GET';
  let body: string | undefined;
  const url = new URL(realm);
  if (credentials?.identityToken) {
    method = 'POST';
    headers['content-type'] = 'application/x-www-form-urlencoded';
    const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: credentials.identityToken, client_id: CLIENT_ID });
    if (req.service) form.set('service', req.service);
    if (req.scopes.length > 0) form.set('scope', req.scopes.join(' '));
    body = form.toString();
  } else {
    if (req.service) url.searchParams.set('service', req.service);
    for (const scope of req.scopes) url.searchParams.append('scope', scope);
    if (hasBasic(credentials)) {
      url.searchParams.set('account', credentials.username);
      headers.authorization = basicAuthorization(credentials.username, credentials.password);
    }
  }

  let res: Dispatcher.ResponseData;
  let text: string | undefined;
  try {
    const dispatcher = req.dispatcher ?? (fallbackDispatcher ??= new undici.Agent());
    res = await requestFollowing(dispatcher, req, url, method, headers, body);
    text = await readLimited(res.body);
  } catch (err) {
    if (err instanceof OcipushError) throw err;
    if (req.signal?.aborted) throw tokenAborted(req);
    throw new OcipushError('ENETWORK', `cannot reach the token service ${realm.host} for ${req.registry}: ${networkReason(err, 'the token service')}`, {
      registry: req.registry,
      host: realm.host,
      retryable: isTransientNetworkError(err),
    });
  }
  const secrets = secretsOf(credentials);
  // OAuth2 servers refuse a grant with 400 (RFC 6749 §5.2): an expired or revoked refresh token is
  // a login to make again, not a token service failing.
  const grantRefused = res.statusCode === 400 && method === 'POST' && isGrantRefusal(text);
  if (res.statusCode === 401 || res.statusCode === 403 || grantRefused) {
    const sentSecrets = credentials?.identityToken || hasBasic(credentials);
    if (!sentSecrets) throw noCredentialsError(req.registry, req.scopes);
    const message = scrub(serverMessage(text) ?? 'credentials refused', secrets);
    const again = credentials?.identityToken ? '; the identity token of its login was refused: log in again' : '';
    throw new OcipushError('EAUTH', `authentication to ${req.registry} failed: ${message} (token service ${realm.host} answered ${res.statusCode}${again})`, {
      registry: req.registry,
      status: res.statusCode,
    });
  }
  if (res.statusCode < 200 || res.statusCode >= 300) {
    const message = scrub(serverMessage(text) ?? 'no message', secrets);
    const retryAfter = res.headers['retry-after'];
    throw new OcipushError('EREGISTRY', `token service ${realm.host} for ${req.registry} answered ${res.statusCode}: ${message}`, {
      registry: req.registry,
      status: res.statusCode,
      ...(typeof retryAfter === 'string' ? { retryAfter } : {}),
    });
  }
  return parseTokenResponse(text, req.registry, realm.host);
}

/**
 * The token request, following the realm's redirects as Go's http.Client does for crane, skopeo
 * and docker (a realm moved to another path or host answered "token service … answered 301").
 * Credentials only ever go to the realm's own origin: the Authorization header is left off
 * elsewhere, and a refresh token in a POST body is not sent on to another host at all.
 */
async function requestFollowing(
  dispatcher: Dispatcher, req: TokenRequest, realm: URL, method: 'GET' | 'POST', headers: Record<string, string>, body: string | undefined,
): Promise<Dispatcher.ResponseData> {
  let url = realm;
  for (let hop = 0; ; hop++) {
    const own = url.origin === realm.origin;
    const sent = own ? headers : Object.fromEntries(Object.entries(headers).filter(([name]) => name !== 'authorization'));
    const res = await dispatcher.request({ origin: url.origin, path: `${url.pathname}${url.search}`, method, headers: sent, body, ...(req.signal ? { signal: req.signal } : {}) });
    const location = res.headers.location;
    const redirect = redirectHop(res.statusCode, typeof location === 'string' ? location : undefined, url, method);
    if (!redirect || hop >= MAX_REDIRECTS) return res;
    await res.body.dump().catch(() => {});
    const next = redirect.url;
    // A 307 or 308 sends the grant (a refresh token in the POST's body) again: never to another
    // host. (301, 302 and 303 make the POST a GET without it, as Go does.)
    if (method === 'POST' && redirect.keepsBody && next.origin !== realm.origin) {
      throw new OcipushError('EAUTH', `the token service ${realm.host} for ${req.registry} redirected the request for a token to ${next.host}: the refresh token of the login is not sent to another host`, {
        registry: req.registry,
        status: res.statusCode,
      });
    }
    if (!redirect.keepsBody) {
      body = undefined;
      headers = Object.fromEntries(Object.entries(headers).filter(([name]) => name !== 'content-type'));
    }
    method = redirect.method as 'GET' | 'POST';
    url = next;
  }
}

export interface TokenRetry {
  policy: RetryPolicy;
  onRetry?: (notice: { op: string; attempt: number; delayMs: number; reason: string }) => void;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  now?: () => number;
  /** When the asking operation must be over (`now()` ms): a retry whose wait would end past it is not made. */
  deadline?: number;
}

/**
 * fetchToken, tried again as the registry client tries its own requests: a token service that
 * sheds load (429, 5xx, with or without Retry-After) or drops a connection is waited out, up to
 * the policy's retries, as crane does; a refusal (401, 403) or a bad answer is final at once.
 * The request's `signal` ends it at once, in a wait as in a request: EABORTED, nothing more sent.
 * No wait goes past `deadline` (the operation's, `--timeout`): the last answer is reported instead.
 */
export async function fetchTokenRetrying(req: TokenRequest, retry: TokenRetry): Promise<IssuedToken> {
  const now = retry.now ?? Date.now;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fetchToken(req);
    } catch (err) {
      if (!(err instanceof OcipushError) || attempt > retry.policy.retries) throw err;
      const status = err.details.status;
      const transient = status === undefined ? err.details.retryable === true : isRetryableStatus(status);
      if (!transient) throw err;
      const retryAfter = err.details.retryAfter as string | undefined;
      const asked = retryAfterPastDeadline(retryAfter, now(), retry.deadline);
      if (asked !== undefined) throw new OcipushError(err.code, `${err.message}${retryAfterNote(asked, retry.deadline! - now())}`, { ...err.details, retryAfterMs: asked });
      const delayMs = retryDelay(retry.policy, attempt, retryAfter, now());
      if (retry.deadline !== undefined && now() + delayMs >= retry.deadline) throw err;
      if (req.signal?.aborted) throw tokenAborted(req);
      retry.onRetry?.({ op: `get a token from ${req.realm.host}`, attempt, delayMs, reason: status === undefined ? 'connection failed' : String(status) });
      try {
        await (retry.sleep ?? sleep)(delayMs, req.signal);
      } catch {
        throw tokenAborted(req);
      }
    }
  }
}

function tokenAborted(req: TokenRequest): OcipushError {
  return abortedError(req.registry, `get a token from ${req.realm.host}`);
}

function parseTokenResponse(text: string | undefined, registry: string, host: string): IssuedToken {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text ?? '');
  } catch {
    // JSON.parse quotes the input in its message; the input may hold a token, so say less.
    throw new OcipushError('EREGISTRY', `token service ${host} for ${registry} answered with a body that is not JSON`, { registry });
  }
  const body = (parsed ?? {}) as Record<string, unknown>;
  const token = typeof body.token === 'string' && body.token ? body.token : body.access_token;
  if (typeof token !== 'string' || !token) {
    throw new OcipushError('EREGISTRY', `token service ${host} for ${registry} answered without a token`, { registry });
  }
  registerSecret(token, typeof body.refresh_token === 'string' ? body.refresh_token : undefined);
  const expiresIn = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : DEFAULT_LIFETIME_S;
  return { token, lifetimeMs: expiresIn * 1000 };
}

/** An OAuth2 error document refusing the grant itself (the credentials), not the request's form. */
function isGrantRefusal(text: string | undefined): boolean {
  try {
    const error = (JSON.parse(text ?? '') as { error?: unknown })?.error;
    return error === 'invalid_grant' || error === 'invalid_client' || error === 'unauthorized_client';
  } catch {
    return false;
  }
}

/** The human part of an error body: distribution's `errors[].message`, OAuth2's `error_description`, or a text line. */
function serverMessage(text: string | undefined): string | undefined {
  if (!text) return undefined;
  try {
    const body = JSON.parse(text) as Record<string, unknown>;
    if (Array.isArray(body.errors)) {
      const messages = body.errors
        .map((e) => (e && typeof e === 'object' ? (e as Record<string, unknown>).message ?? (e as Record<string, unknown>).code : undefined))
        .filter((m): m is string => typeof m === 'string' && m !== '');
      if (messages.length > 0) return oneLine(messages.join('; '));
    }
    for (const key of ['error_description', 'details', 'message', 'error']) {
      if (typeof body[key] === 'string' && body[key]) return oneLine(body[key] as string);
    }
    return undefined;
  } catch {
    return oneLine(text);
  }
}

function oneLine(text: string): string | undefined {
  const line = text.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim();
  if (!line) return undefined;
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}

async function readLimited(body: Dispatcher.ResponseData['body']): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) {
      body.destroy();
      return undefined;
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
