export type { AuthOptions, Credentials, CredentialSource } from './types.js';
export { Authenticator, type SentRequest } from './authenticator.js';
export { parseChallenge, type Challenge } from './challenge.js';
export { scopeFor, mergeScopes, scopeKey } from './scope.js';
export { secretCredentials, REDACTED } from './secret.js';
export { maySendSecrets, noCredentialsError } from './policy.js';
