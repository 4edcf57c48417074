import { OcipushError } from '../errors.js';
import type { CredentialSource } from '../registry/auth/types.js';
import { defaultCredentials as cliChain, type DefaultCredentialOptions } from '../registry/credentials/default.js';
import { inLibraryTerms } from './errors.js';

/**
 * The CLI's credential chain: `username` + `password` (its `--username` / `--password-stdin`)
 * for `registry` only, then OCIPUSH_USERNAME/OCIPUSH_PASSWORD (or OCIPUSH_REGISTRY_TOKEN) for
 * `registry` only, then the Docker config and its credential helpers for any registry.
 */
export function defaultCredentials(options: DefaultCredentialOptions): CredentialSource {
  try {
    return cliChain(options);
  } catch (err) {
    throw err instanceof OcipushError ? new OcipushError(err.code, inLibraryTerms(err.message), err.details) : err;
  }
}
