import type { Readable } from 'node:stream';
import type { OcipushError } from '../errors.js';

/*
 * The shapes the registry client speaks in (http.ts): requests, answers, what authentication and
 * retries tell it. Kept apart so the client itself stays one file to read.
 */

/**
 * What the client needs from authentication (src/registry/auth): the Authorization header for a
 * set of scopes (`repository:<name>:pull,push`), and a way to react to a 401 challenge. Returning
 * true from handleChallenge means "I have new credentials, try again". `deadline` (`now()` ms) is
 * the asking request's: a token request is not retried past it.
 */
export interface Authorizer {
  authorization(scopes: string[], deadline?: number): Promise<string | undefined>;
  /** `sent` is the Authorization the refused request carried (requests run in parallel). */
  handleChallenge(wwwAuthenticate: string | string[], scopes: string[], sent?: { authorization?: string }, deadline?: number): Promise<boolean>;
  /** The error to report once handleChallenge said no. */
  refusedError?(): OcipushError;
}

/** A request body: a stream, or chunks undici pulls one at a time (an async generator). */
export type RequestBody = Readable | AsyncIterable<Uint8Array>;

/** Opens the request body afresh; called once per attempt so a retry never sends a half-read stream. */
export type BodyOpener = () => Promise<RequestBody> | RequestBody;

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RegistryRequest {
  method: HttpMethod;
  /** `/v2/…` (relative to the registry) or an absolute URL such as an upload Location. */
  url: string | URL;
  /** Names the operation in errors: `push blob sha256:…`. */
  op: string;
  /** Token scopes the request needs, e.g. `repository:team/app:pull,push`. */
  scopes: string[];
  headers?: Record<string, string>;
  body?: Buffer | BodyOpener;
  /** Statuses handed back to the caller; others raise. Default: 2xx. */
  accept?: (status: number) => boolean;
  /**
   * Whether this request may be sent again after a 5xx, 429 or a dropped connection. Requests
   * that append to an upload session (PATCH, PUT with data) say false: whether the registry kept
   * part of the body is unknown, so the upload code re-synchronises instead.
   */
  retry?: boolean;
  /** Cancels the request (and its retries and their waits): EABORTED. */
  signal?: AbortSignal;
  /**
   * When the whole operation must be over (`now()` milliseconds): no attempt or wait goes past it.
   * Default: `timeouts.operationMs` from the start of this request.
   */
  deadline?: number;
  /** A cleanup's retries (an upload session's DELETE after a failure) are not told to onRetry: they read as the failed operation's. */
  quiet?: boolean;
  /**
   * The client's destroy() lets this request finish (for a few seconds) instead of aborting it:
   * an upload session's DELETE after a failure, the POST that opens one (cut, it could leave a
   * session nobody can name). Only its own `signal` cancels it.
   */
  outlivesDestroy?: boolean;
}

/** What several requests of one operation share: its signal and its deadline. */
export type RequestTiming = Pick<RegistryRequest, 'signal' | 'deadline'>;

export interface RegistryResponse {
  status: number;
  /** The Authorization header this request carried (never printed; the authorizer compares it). */
  sentAuthorization?: string;
  /** The URL that answered, after redirects: Location headers are relative to it. */
  url: URL;
  header(name: string): string | undefined;
  headerAll(name: string): string[];
  body: Readable;
  /** Reads a small body (error documents, manifests) as text. */
  text(limit?: number): Promise<string>;
  /** Discards the body so the connection goes back to the pool. */
  dump(): Promise<void>;
}

/**
 * What a registry has shown it cannot do, learnt during a push and kept for the next blobs, so
 * each one does not run into the same wall.
 */
export interface RegistryQuirks {
  /** Below the smallest request body refused with 413 (a proxy's or the registry's cap). */
  maxRequestBytes?: number;
  /** PATCH was refused: every blob goes in one PUT. */
  noChunkedUploads?: boolean;
}

export interface RetryNotice {
  op: string;
  attempt: number;
  delayMs: number;
  reason: string;
}
