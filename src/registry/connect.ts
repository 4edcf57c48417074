import { Authenticator } from './auth/authenticator.js';
import type { CredentialSource } from './auth/types.js';
import { RegistryClient, type RetryNotice } from './http.js';
import type { RetryPolicy, Timeouts } from './retry.js';
import { usesPlainHttp, type TransportOptions } from './transport.js';
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
}

const NO_CREDENTIALS: CredentialSource = { get: async () => undefined };

/** A client for one registry with authentication wired in; token requests share its connection pool. */
export function connectRegistry(registry: string, options: ConnectOptions = {}): RegistryClient {
  return new RegistryClient(registry, {
    ...options,
    authorizer: (dispatcher) => new Authenticator({
      registry,
      credentials: options.credentials ?? NO_CREDENTIALS,
      dispatcher,
      plainHttp: usesPlainHttp(registry, options),
      allowInsecureBasic: options.allowInsecureBasic,
      userAgent: `ocipush/${VERSION}`,
    }),
  });
}
