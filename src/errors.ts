import { redact } from './redact.js';

/**
 * One error class for everything ocipush reports to a user. `code` is stable (scripts match on
 * it); the message is one line that names the thing and the cause. Extra fields explain the
 * failure without ever carrying a secret.
 */
export type ErrorCode =
  | 'EUSAGE' // bad flags or arguments
  | 'EROOTFS' // a rootfs argument is missing, unreadable or of the wrong kind
  | 'EREAD' // a file inside a rootfs or archive cannot be read
  | 'ELAYOUT' // an OCI layout is missing or corrupt
  | 'ENOTFOUND' // an image, tag, blob or manifest that does not exist
  | 'EDIGEST' // content does not match its digest or size
  | 'EINVALID' // a manifest, config, index or reference that does not parse
  | 'EIO' // the disk failed (full, read-only, permission)
  | 'ELOCKED' // the layout is locked by another writer for too long
  | 'EABORTED' // interrupted (Ctrl-C)
  | 'EREGISTRY' // the registry answered with an error
  | 'EAUTH' // authentication was refused
  | 'ENETWORK' // the registry could not be reached
  | 'EUNSUPPORTED' // a feature this build or this registry does not have
  | 'EDOCKERFILE'; // a Dockerfile that cannot be built

export interface ErrorDetails {
  path?: string;
  status?: number;
  registryCodes?: string[];
  digest?: string;
  cause?: unknown;
  [key: string]: unknown;
}

/** The mark every copy of ocipush loaded in one process puts on its errors (Symbol.for: one symbol for all). */
const BRAND = Symbol.for('ocipush.OcipushError');

export class OcipushError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails;

  /**
   * `instanceof OcipushError` (and isOcipushError) by the mark, not the class: a program whose
   * node_modules holds two copies (a tool's own ocipush beside the program's, a bundle) gets errors
   * from either, and would otherwise take a refused credential for an unknown crash.
   * A subclass (ExpansionError) is still asked of its own copy's prototypes.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== OcipushError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    // Whatever a message quotes (a registry's answer, a helper's output, a reference), no credential is shown.
    super(redact(message), details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'OcipushError';
    this.code = code;
    this.details = details;
    Object.defineProperty(this, BRAND, { value: true });
  }
}

export function isOcipushError(err: unknown): err is OcipushError {
  return err instanceof OcipushError;
}

/** Turns a Node system error (ENOENT, EACCES, ENOSPC …) into a one-line OcipushError naming the path. */
export function fromSystemError(err: unknown, path: string, what = 'cannot access'): OcipushError {
  if (err instanceof OcipushError) return err;
  const e = err as NodeJS.ErrnoException;
  const reason = systemReason(e);
  const code: ErrorCode = e?.code === 'ENOSPC' || e?.code === 'EROFS' || e?.code === 'EDQUOT' ? 'EIO' : 'EREAD';
  return new OcipushError(code, `${what} ${path}: ${reason}`, { path, cause: err });
}

/**
 * A write that failed: EIO whatever the system's reason (a full or read-only disk, a directory
 * the user may not write), so a script matching on the code never reads a failed write as
 * a failed read.
 */
export function fromWriteError(err: unknown, path: string, what = 'cannot write'): OcipushError {
  if (err instanceof OcipushError) return err;
  return new OcipushError('EIO', `${what} ${path}: ${systemReason(err as NodeJS.ErrnoException)}`, { path, cause: err });
}

export function systemReason(e: NodeJS.ErrnoException | undefined): string {
  switch (e?.code) {
    case 'ENOENT': return 'no such file or directory';
    case 'EACCES': case 'EPERM': return 'permission denied';
    case 'ENOSPC': return 'no space left on device';
    case 'EDQUOT': return 'disk quota exceeded';
    case 'EROFS': return 'read-only file system';
    case 'ENOTDIR': return 'not a directory';
    case 'EISDIR': return 'is a directory';
    case 'EIO': return 'input/output error';
    case 'ELOOP': return 'too many levels of symbolic links';
    default: return e?.message?.split('\n')[0] ?? String(e);
  }
}
