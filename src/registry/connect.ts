import type { Authenticator } from './auth/authenticator.js';
import type { CredentialSource } from './auth/types.js';
import { RegistryClient, type Authorizer, type RetryNotice } from './http.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy, type Timeouts } from './retry.js';
import type { TransportOptions } from './transport.js';
import { VERSION } from '../version.js';

export interface ConnectOptions extends TransportOptions {
  /** Where credentials come from (flags, environment, Docker config); none means anonymous. */
  credentials?: CredentialSource;
  /** Send Basic credentials over plain HTTP to a host that is not loopback (forced, insecure). */
  allowInsecureBasic?: boolean;
  retry?: RetryPolicy;
  /** Per attempt and per operation (see Timeouts). */
  timeouts?: Partial<Timeouts>;
  onRetry?: (notice: RetryNotice) => void;
  /** Ends the client's token requests and their retries (each request is cancelled by its own signal). */
  signal?: AbortSignal;
}

const NO_CREDENTIALS: CredentialSource = { get: async () => undefined };

/** A client for one registry with authentication wired in; token requests share its connection pool. */
export function connectRegistry(registry: string, options: ConnectOptions = {}): RegistryClient {
  const client: RegistryClient = new RegistryClient(registry, {
    ...options,
    authorizer: (dispatcher, ended) => new LazyAuthorizer(async () => {
      const { Authenticator } = await import('./auth/authenticator.js');
      return new Authenticator({
        registry,
        credentials: options.credentials ?? NO_CREDENTIALS,
        dispatcher,
        // Made on the first 401, when the client knows the scheme it speaks (a loopback registry,
        // or one named with --insecure, found it by asking).
        plainHttp: client.origin.startsWith('http:'),
        allowInsecureBasic: options.allowInsecureBasic,
        userAgent: `ocipush/${VERSION}`,
        retry: options.retry ?? DEFAULT_RETRY_POLICY,
        onRetry: options.onRetry,
        signal: ended,
      });
    }),
  });
  return client;
}

/**
 * The Authenticator, made (and its code loaded) on the first 401: until a registry asks,
 * every request goes out anonymous, as the Authenticator itself would send it. A registry that
 * never asks (a local one, a re-push of an open repository) never loads the auth code.
 */
class LazyAuthorizer implements Authorizer {
  #made?: Promise<Authenticator>;
  #ready?: Authenticator;

  constructor(private readonly make: () => Promise<Authenticator>) {}

  async authorization(scopes: string[], deadline?: number): Promise<string | undefined> {
    return this.#ready?.authorization(scopes, deadline);
  }

  async handleChallenge(wwwAuthenticate: string | string[], scopes: string[], sent?: { authorization?: string }, deadline?: number): Promise<boolean> {
    this.#made ??= this.make().then((a) => (this.#ready = a));
    return (await this.#made).handleChallenge(wwwAuthenticate, scopes, sent, deadline);
  }

  refusedError() {
    return this.#ready!.refusedError();
  }
}
