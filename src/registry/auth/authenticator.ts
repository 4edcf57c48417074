import { inspect } from 'node:util';
import { OcipushError } from '../../errors.js';
import { parseChallenge, type Challenge } from './challenge.js';
import { assertMaySendSecrets, noCredentialsError, readOnlyRepository } from './policy.js';
import { mergeScopes, scopeKey } from './scope.js';
import { basicAuthorization, hasBasic } from './secret.js';
import { fetchToken, fetchTokenRetrying } from './token.js';
import type { AuthOptions, Credentials } from './types.js';

type Mode = 'anonymous' | 'basic' | 'registry-token' | 'bearer';

interface CachedToken {
  header: string;
  fetchedAt: number;
  expiresAt: number;
  lifetimeMs: number;
  /** When the issuer's answer came (fetchedAt is when it was asked for). */
  receivedAt: number;
  /** Fetched because the registry called the one before it invalid. */
  afterInvalid?: boolean;
}

/** What the refused request carried; `authorization` undefined means it went out anonymous. */
export interface SentRequest {
  authorization?: string;
}

interface Refusal {
  kind: Mode | 'unsupported';
  scopes: string[];
  registryError?: string;
  schemes?: string[];
}

/** Refresh a little before the issuer's expiry so that a token never dies in flight. */
const EXPIRY_MARGIN_MS = 10_000;
/**
 * A token refused this soon after it was issued is refused for good (the credentials lack the
 * access, a second token would be the same); an older one may have expired or been revoked
 * early, and deserves one more fetch.
 */
const FRESH_MS = 60_000;
/** A token fetched after an invalid_token and refused as invalid this soon is one the registry never takes. */
const INVALID_AT_ONCE_MS = 1_000;

/** The repository a request is for: the one its first scope names (`repository:team/app:pull`); '' for none. */
function repositoryKey(scopes: string[]): string {
  const first = scopes.flatMap((s) => s.split(' ')).find(Boolean) ?? '';
  const match = /^repository(?:\([^)]*\))?:([^:]+):[^:]*$/.exec(first);
  return match ? match[1] : '';
}

/**
 * The authentication state for one registry, shared by every request to it: anonymous until a
 * 401 says otherwise, then Basic, a registry token, or Bearer tokens cached per scope set.
 */
export class Authenticator {
  readonly registry: string;
  readonly #options: AuthOptions;
  readonly #now: () => number;
  /** Per repository (credentials may be scoped to a namespace); '' for requests naming none. */
  readonly #credentials = new Map<string, Promise<Credentials | undefined>>();
  readonly #knownCredentials = new Map<string, Credentials | undefined>();
  #mode: Mode = 'anonymous';
  /** The Basic or registry-token header, per repository as #credentials. */
  readonly #staticHeaders = new Map<string, string>();
  #bearer?: { realm: URL; service?: string };
  readonly #tokens = new Map<string, CachedToken>();
  readonly #pending = new Map<string, Promise<CachedToken>>();
  readonly #extraScopes = new Map<string, string[]>();
  #refusal?: Refusal;

  constructor(options: AuthOptions) {
    this.registry = options.registry;
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /**
   * The Authorization header value for a request needing these scopes, or undefined for an
   * anonymous one. Bearer tokens are cached per scope set until shortly before they expire.
   */
  async authorization(scopes: string[], deadline?: number): Promise<string | undefined> {
    switch (this.#mode) {
      case 'anonymous': return undefined;
      case 'basic': case 'registry-token': return this.#staticHeader(scopes);
      case 'bearer': return (await this.#token(scopes, deadline)).header;
    }
  }

  /**
   * Reacts to a 401's WWW-Authenticate header(s). True when a retry (with a fresh
   * `authorization()`) makes sense; false when the credentials were refused (then report
   * `refusedError()`). Pass `sent` (what the refused request carried) whenever requests run in
   * parallel: without it, the refused header is taken to be the current one, so a late 401 for
   * a token that was already replaced would count as a refusal.
   * Throws EAUTH when the registry needs credentials and there are none, when the token
   * service refuses them, or when they would cross plain HTTP to another host. A token request
   * is not retried past `deadline` (the asking request's, in `now()` milliseconds).
   */
  async handleChallenge(wwwAuthenticate: string | string[], scopes: string[], sent?: SentRequest, deadline?: number): Promise<boolean> {
    const headers = Array.isArray(wwwAuthenticate) ? wwwAuthenticate : [wwwAuthenticate];
    const challenges = headers.flatMap((h) => parseChallenge(h));
    const key = scopeKey(scopes);
    const sentHeader = sent ? sent.authorization : this.#currentHeader(key, scopes);
    const bearer = challenges.find((c) => c.scheme === 'bearer' && c.params.realm);
    if (bearer) return this.#onBearer(bearer, scopes, key, sentHeader, deadline);
    if (challenges.some((c) => c.scheme === 'basic')) return this.#onBasic(scopes, sentHeader);
    this.#refusal = { kind: 'unsupported', scopes, schemes: challenges.map((c) => c.scheme) };
    return false;
  }

  /** The one-line EAUTH error to report after `handleChallenge()` returned false. */
  refusedError(): OcipushError {
    const r = this.#refusal;
    const details = { registry: this.registry, status: 401, ...(r?.registryError ? { registryError: r.registryError } : {}) };
    if (r?.kind === 'unsupported') {
      const schemes = r.schemes?.length ? r.schemes.join(', ') : 'none given';
      return new OcipushError('EAUTH', `${this.registry} asks for an authentication scheme ocipush does not support (${schemes})`, details);
    }
    if (!this.#hasSecrets(r?.scopes ?? [])) return noCredentialsError(this.registry, r?.kind === 'bearer' ? r.scopes : []);
    switch (r?.kind) {
      case 'basic':
        return new OcipushError('EAUTH', `authentication to ${this.registry} failed: username or password refused`, details);
      case 'registry-token':
        return new OcipushError('EAUTH', `authentication to ${this.registry} failed: the registry token was refused`, details);
      case 'bearer': {
        const what = r.scopes.length > 0 ? mergeScopes(r.scopes).join(' ') : 'the registry';
        if (r.registryError === 'invalid_token') {
          return new OcipushError('EAUTH', `access denied by ${this.registry}: it refused a new token for ${what} as invalid (invalid_token): expired or not yet valid by its clock (is the token service's clock apart from the registry's?), or not issued for it`, details);
        }
        const why = r.registryError ? ` (${r.registryError})` : '';
        // A token service grants nothing on a repository that does not exist: a typo reads as a refusal (docker names both).
        const missing = readOnlyRepository(r.scopes) !== undefined ? 'no such repository, or ' : '';
        return new OcipushError('EAUTH', `access denied by ${this.registry}: ${missing}the credentials do not grant ${what}${why}`, details);
      }
      default:
        return new OcipushError('EAUTH', `authentication to ${this.registry} failed`, details);
    }
  }

  async #onBasic(scopes: string[], sentHeader: string | undefined): Promise<boolean> {
    const credentials = await this.#lookup(scopes);
    if (!hasBasic(credentials)) {
      if (credentials?.identityToken || credentials?.registryToken) {
        throw new OcipushError('EAUTH', `authentication required by ${this.registry}: it asks for a username and password, but only a token is configured`, { registry: this.registry });
      }
      throw noCredentialsError(this.registry);
    }
    assertMaySendSecrets(this.#registryUrl(), this.#options.allowInsecureBasic === true, this.registry);
    const header = basicAuthorization(credentials.username, credentials.password);
    if (sentHeader === header) {
      this.#refusal = { kind: 'basic', scopes };
      return false;
    }
    this.#mode = 'basic';
    this.#staticHeaders.set(repositoryKey(scopes), header);
    return true;
  }

  async #onBearer(challenge: Challenge, scopes: string[], key: string, sentHeader: string | undefined, deadline: number | undefined): Promise<boolean> {
    const realm = this.#parseRealm(challenge.params.realm);
    const service = challenge.params.service || undefined;
    const registryError = challenge.params.error || undefined;
    const credentials = await this.#lookup(scopes);

    if (credentials?.registryToken) {
      assertMaySendSecrets(this.#registryUrl(), this.#options.allowInsecureBasic === true, this.registry);
      const header = `Bearer ${credentials.registryToken}`;
      if (sentHeader === header) {
        this.#refusal = { kind: 'registry-token', scopes, registryError };
        return false;
      }
      this.#mode = 'registry-token';
      this.#staticHeaders.set(repositoryKey(scopes), header);
      return true;
    }

    if (!this.#bearer || this.#bearer.realm.href !== realm.href || this.#bearer.service !== service) {
      this.#bearer = { realm, service };
      this.#tokens.clear();
    }
    this.#mode = 'bearer';

    // The registry may need more than was asked (a mount source, a catalog): add what the
    // challenge names to this scope set from now on.
    const before = this.#extraScopes.get(key) ?? [];
    const asked = (challenge.params.scope ?? '').split(' ').filter(Boolean);
    const extras = mergeScopes([...before, ...asked]);
    if (scopeKey([...scopes, ...extras]) !== scopeKey([...scopes, ...before])) {
      this.#extraScopes.set(key, extras);
      this.#tokens.delete(key);
    }

    const current = this.#tokens.get(key);
    if (current && sentHeader !== current.header && this.#now() < current.expiresAt) return true; // already replaced
    // invalid_token is the registry refusing the token itself (expired early by its clock, revoked),
    // not what it grants: a new token is worth asking for, however fresh this one is, unless it
    // replaced one refused so and was refused at once.
    const invalid = registryError === 'invalid_token';
    const final = current !== undefined && (invalid
      ? current.afterInvalid === true && this.#now() - current.receivedAt < INVALID_AT_ONCE_MS
      : this.#now() - current.fetchedAt < Math.min(FRESH_MS, current.lifetimeMs / 2));
    if (current && sentHeader === current.header && final) {
      this.#refusal = { kind: 'bearer', scopes: [...scopes, ...extras], registryError };
      return false;
    }
    this.#tokens.delete(key);
    const next = await this.#fetch(key, scopes, deadline);
    if (invalid) next.afterInvalid = true;
    return true;
  }

  async #token(scopes: string[], deadline: number | undefined): Promise<CachedToken> {
    const key = scopeKey(scopes);
    const cached = this.#tokens.get(key);
    if (cached && this.#now() < cached.expiresAt) return cached;
    return this.#fetch(key, scopes, deadline);
  }

  /** One token request per scope set at a time: parallel requests share it (retried up to the first asker's deadline). */
  #fetch(key: string, scopes: string[], deadline: number | undefined): Promise<CachedToken> {
    const wanted = mergeScopes([...scopes, ...(this.#extraScopes.get(key) ?? [])]);
    const bearer = this.#bearer!;
    const pendingKey = `${bearer.realm.href} ${bearer.service ?? ''} ${wanted.join(' ')}`;
    const pending = this.#pending.get(pendingKey);
    if (pending) return pending;
    const promise = (async () => {
      const credentials = await this.#lookup(scopes);
      if (credentials?.identityToken || hasBasic(credentials)) {
        assertMaySendSecrets(bearer.realm, this.#options.allowInsecureBasic === true, `the token service ${bearer.realm.host}`);
      }
      const started = this.#now();
      const request = {
        registry: this.registry,
        realm: bearer.realm,
        service: bearer.service,
        scopes: wanted,
        credentials,
        dispatcher: this.#options.dispatcher,
        userAgent: this.#options.userAgent,
        signal: this.#options.signal,
      };
      const retry = this.#options.retry;
      const issued = retry
        ? await fetchTokenRetrying(request, { policy: retry, onRetry: this.#options.onRetry, sleep: this.#options.sleep, now: this.#now, ...(deadline !== undefined ? { deadline } : {}) })
        : await fetchToken(request);
      const margin = Math.min(EXPIRY_MARGIN_MS, issued.lifetimeMs / 10);
      const entry: CachedToken = {
        header: `Bearer ${issued.token}`,
        fetchedAt: started,
        receivedAt: this.#now(),
        lifetimeMs: issued.lifetimeMs,
        expiresAt: started + issued.lifetimeMs - margin,
      };
      // A realm change while this was in flight makes the token useless for the new realm.
      if (this.#bearer === bearer) this.#tokens.set(key, entry);
      return entry;
    })().finally(() => this.#pending.delete(pendingKey));
    this.#pending.set(pendingKey, promise);
    return promise;
  }

  #currentHeader(key: string, scopes: string[]): string | undefined {
    switch (this.#mode) {
      case 'anonymous': return undefined;
      case 'basic': case 'registry-token': return this.#staticHeaders.get(repositoryKey(scopes));
      case 'bearer': return this.#tokens.get(key)?.header;
    }
  }

  /** Basic or registry-token mode: the header for the repository the scopes name, once its credentials are known. */
  async #staticHeader(scopes: string[]): Promise<string | undefined> {
    const repository = repositoryKey(scopes);
    const known = this.#staticHeaders.get(repository);
    if (known !== undefined) return known;
    const credentials = await this.#lookup(scopes);
    let header: string | undefined;
    if (this.#mode === 'basic' && hasBasic(credentials)) header = basicAuthorization(credentials.username, credentials.password);
    if (this.#mode === 'registry-token' && credentials?.registryToken) header = `Bearer ${credentials.registryToken}`;
    // Sent only where the 401 that chose the mode allowed it: the checks of #onBasic/#onBearer.
    if (header !== undefined) assertMaySendSecrets(this.#registryUrl(), this.#options.allowInsecureBasic === true, this.registry);
    if (header !== undefined) this.#staticHeaders.set(repository, header);
    return header;
  }

  /** The credentials for the repository the scopes are for (a mount's destination, not its source), asked once each. */
  #lookup(scopes: string[]): Promise<Credentials | undefined> {
    const repository = repositoryKey(scopes);
    let found = this.#credentials.get(repository);
    if (!found) {
      found = Promise.resolve().then(() => this.#options.credentials.get(this.registry, repository || undefined)).then((value) => {
        this.#knownCredentials.set(repository, value);
        return value;
      }, (err: unknown) => {
        // A credential source of the caller's that failed (its vault unreachable, a bug): an
        // OcipushError as every failure is, naming the registry, the source's error as its cause.
        if (err instanceof OcipushError) throw err;
        const reason = (err instanceof Error ? err.message : String(err)).split('\n')[0];
        throw new OcipushError('EAUTH', `cannot get credentials for ${this.registry}: ${reason}`, { registry: this.registry, cause: err });
      });
      this.#credentials.set(repository, found);
    }
    return found;
  }

  #hasSecrets(scopes: string[]): boolean {
    const c = this.#knownCredentials.get(repositoryKey(scopes));
    return hasBasic(c) || !!c?.identityToken || !!c?.registryToken;
  }

  #registryUrl(): URL {
    const host = this.registry === 'docker.io' ? 'registry-1.docker.io' : this.registry;
    return new URL(`${this.#options.plainHttp ? 'http' : 'https'}://${host}`);
  }

  #parseRealm(text: string): URL {
    let url: URL | undefined;
    try {
      url = new URL(text);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
      throw new OcipushError('EREGISTRY', `${this.registry} sent an invalid token realm "${text}" (an http or https URL was expected)`, { registry: this.registry });
    }
    return url;
  }

  toJSON(): Record<string, unknown> {
    return { registry: this.registry, mode: this.#mode, cachedTokens: this.#tokens.size };
  }

  toString(): string {
    return `Authenticator ${JSON.stringify(this.toJSON())}`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}
