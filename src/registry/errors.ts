import { OcipushError, type ErrorCode } from '../errors.js';
import { isLoopbackRegistry } from '../oci/reference.js';

/** One entry of the distribution spec's error body `{"errors":[{"code","message","detail"}]}`. */
export interface RegistryErrorEntry {
  code: string;
  message?: string;
  detail?: unknown;
}

/** Parses a registry error body; anything else (HTML from a proxy, empty) yields no entries. */
export function parseErrorBody(text: string): RegistryErrorEntry[] {
  if (!text) return [];
  try {
    const value = JSON.parse(text) as { errors?: unknown };
    if (!value || !Array.isArray(value.errors)) return [];
    return value.errors
      .filter((e): e is RegistryErrorEntry => Boolean(e) && typeof (e as RegistryErrorEntry).code === 'string')
      .map((e) => ({ code: e.code, message: typeof e.message === 'string' ? e.message : undefined, detail: e.detail }));
  } catch {
    return [];
  }
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  408: 'Request Timeout', 409: 'Conflict', 411: 'Length Required', 413: 'Payload Too Large', 416: 'Range Not Satisfiable',
  429: 'Too Many Requests', 500: 'Internal Server Error', 501: 'Not Implemented', 502: 'Bad Gateway',
  503: 'Service Unavailable', 504: 'Gateway Timeout',
};

/**
 * `<registry>: <op>: <status> <CODE>: <message>`, e.g.
 * `localhost:5000: push manifest sha256:ab…: 400 MANIFEST_BLOB_UNKNOWN: blob unknown to registry`.
 * 401/403 become EAUTH and a missing manifest or blob ENOTFOUND, so scripts can tell them apart.
 */
export function registryError(registry: string, op: string, status: number, bodyText: string): OcipushError {
  const entries = parseErrorBody(bodyText);
  const first = entries[0];
  let reason = `${status} ${first ? first.code : (STATUS_TEXT[status] ?? 'error')}`;
  if (first?.message) reason += `: ${oneLine(first.message)}`;
  if (entries.length > 1) reason += ` (and ${entries.length - 1} more)`;
  const codes = entries.map((e) => e.code);
  let code: ErrorCode = 'EREGISTRY';
  if (status === 401 || status === 403 || codes.includes('UNAUTHORIZED') || codes.includes('DENIED')) code = 'EAUTH';
  else if (status === 404 && (codes.length === 0 || codes.some((c) => c.endsWith('_UNKNOWN')))) code = 'ENOTFOUND';
  else if (codes.includes('DIGEST_INVALID') || codes.includes('SIZE_INVALID')) code = 'EDIGEST';
  const registryDetails = entries.map((e) => e.detail).filter((d): d is string => typeof d === 'string');
  return new OcipushError(code, `${registry}: ${op}: ${reason}`, { status, registryCodes: codes, ...(registryDetails.length > 0 ? { registryDetails } : {}) });
}

/**
 * An answer from the host a registry redirected a request to (its blob storage: S3, GCS, a CDN),
 * named as that host's, with the reason from its own error document (S3's and GCS's XML
 * `<Code>`/`<Message>`, or a registry's JSON). Never EAUTH: no credentials went there, so a login
 * changes nothing; a 403 there is most often a signed URL that expired, or a clock that is off.
 */
export function redirectedError(registry: string, op: string, host: string, status: number, bodyText: string): OcipushError {
  return new OcipushError(status === 404 ? 'ENOTFOUND' : 'EREGISTRY', `${registry}: ${op}: ${host}, where it was redirected, answered ${answerReason(status, bodyText)}`, { status, redirectedTo: host });
}

/**
 * A login challenge (401 with WWW-Authenticate) from the other host an upload Location named: the
 * registry under another of its names (its public one). Credentials go to the host the user named
 * alone, as crane and docker send them (skopeo sends them wherever the Location points).
 */
export function uploadLoginElsewhere(registry: string, op: string, host: string, bodyText: string): OcipushError {
  return new OcipushError('EREGISTRY', `${registry}: ${op}: the registry named its upload location on another host, ${host}, which asks for credentials (${answerReason(401, bodyText)}); they go to ${registry} alone, as crane and docker send them: push to ${host} by that name, or have the registry name its uploads on ${registry} (distribution: http.relativeurls: true, or http.host)`, { status: 401, redirectedTo: host });
}

/** `403 AccessDenied: Request has expired`: the status with the code and message of a registry's or a storage's (XML) error body. */
export function answerReason(status: number, bodyText: string): string {
  const xml = (tag: string) => new RegExp(`<${tag}>([^<]{1,300})</${tag}>`).exec(bodyText)?.[1];
  const entry = parseErrorBody(bodyText)[0];
  const [code, message] = bodyText.includes('<Code>') ? [xml('Code'), xml('Message')] : [entry?.code, entry?.message];
  return `${status} ${code ?? STATUS_TEXT[status] ?? 'error'}${message ? `: ${oneLine(unescapeXml(message))}` : ''}`;
}

function unescapeXml(text: string): string {
  return text.replace(/&(lt|gt|quot|apos|amp);/g, (_, name: string) => ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' })[name]!);
}

/**
 * Error codes that describe the request, not the registry's state: distribution answers some with
 * a 500 (a manifest naming a foreign layer whose URL it does not allow: `UNKNOWN` and
 * `MANIFEST_BLOB_UNKNOWN`), which sending the same request again cannot change.
 */
const DEFINITE_CODES = new Set(['MANIFEST_BLOB_UNKNOWN', 'MANIFEST_INVALID', 'NAME_INVALID', 'TAG_INVALID', 'DIGEST_INVALID', 'SIZE_INVALID', 'UNSUPPORTED', 'DENIED', 'UNAUTHORIZED']);

/** Whether an error body names a problem of the request itself (see DEFINITE_CODES): not worth a retry. */
export function isDefiniteFailure(bodyText: string): boolean {
  return parseErrorBody(bodyText).some((e) => DEFINITE_CODES.has(e.code));
}

function oneLine(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > 300 ? `${line.slice(0, 297)}...` : line;
}

/** Network error codes worth another attempt: the connection went away, not the host. */
const TRANSIENT_NETWORK_CODES = new Set([
  'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'ENETUNREACH', 'EHOSTUNREACH', 'ECONNREFUSED', 'EAI_AGAIN',
  'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH', 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
]);

/** The innermost error code of a (possibly wrapped) network error. */
export function networkErrorCode(err: unknown): string | undefined {
  let e = err as { code?: unknown; cause?: unknown } | undefined;
  let found: string | undefined;
  for (let depth = 0; e && depth < 5; depth++) {
    if (typeof e.code === 'string') found = e.code;
    e = e.cause as typeof e;
  }
  return found;
}

export function isTransientNetworkError(err: unknown): boolean {
  if (err instanceof OcipushError) return err.details.retryable === true;
  const code = networkErrorCode(err);
  if (code && TRANSIENT_NETWORK_CODES.has(code)) return true;
  // undici reports a peer that hung up mid-request as a SocketError without an errno.
  const name = (err as Error)?.name;
  return name === 'SocketError' || /other side closed|socket hang up/i.test((err as Error)?.message ?? '');
}

/** What trusting a CA fixes: a certificate no CA we trust has signed. */
const UNTRUSTED = '(use --ca-file FILE, or --insecure to skip verification)';
/** What a CA cannot fix: the certificate's dates, or this machine's clock. */
const ENDED = '(the registry must renew it, or this machine\'s clock is ahead; --insecure skips verification)';
const NOT_STARTED = '(this machine\'s clock is behind, or the certificate starts later; --insecure skips verification)';

const TLS_REASONS: Record<string, string> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: `TLS certificate is self-signed and not trusted ${UNTRUSTED}`,
  SELF_SIGNED_CERT_IN_CHAIN: `TLS certificate chain ends in an untrusted self-signed CA ${UNTRUSTED}`,
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: `TLS certificate is signed by an unknown authority ${UNTRUSTED}`,
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: `TLS certificate is signed by an unknown authority ${UNTRUSTED}`,
  // The chain the server sent goes up to a CA whose issuer is trusted nowhere.
  UNABLE_TO_GET_ISSUER_CERT: `TLS certificate is signed by an unknown authority ${UNTRUSTED}`,
  CERT_HAS_EXPIRED: `TLS certificate has expired ${ENDED}`,
  CERT_NOT_YET_VALID: `TLS certificate is not valid yet ${NOT_STARTED}`,
};

/**
 * A certificate for other names than the one asked for, named as Go names it ("certificate is
 * valid for registry.example.com, not 10.0.0.5"): another CA cannot fix it, the name the
 * registry is reached by can. Node's error carries the certificate it checked.
 */
function nameMismatch(err: unknown, server: string): string {
  let e = err as { code?: unknown; cause?: unknown; host?: unknown; cert?: { subjectaltname?: unknown; subject?: { CN?: unknown } } } | undefined;
  for (let depth = 0; e && depth < 5 && e.code !== 'ERR_TLS_CERT_ALTNAME_INVALID'; depth++) e = e.cause as typeof e;
  const sans = typeof e?.cert?.subjectaltname === 'string' ? e.cert.subjectaltname.split(', ').map((n) => n.replace(/^(?:DNS|IP Address):/, '')).filter(Boolean) : [];
  const names = sans.length > 0 ? sans : typeof e?.cert?.subject?.CN === 'string' ? [e.cert.subject.CN] : [];
  const host = typeof e?.host === 'string' ? e.host : 'this host';
  const valid = names.length > 0 ? `is valid for ${oneLine(names.join(', '))}, not ${host}` : `does not name ${host}`;
  const fix = server === 'the registry' ? 'reach the registry by a name its certificate holds, or use --insecure to skip verification' : 'use --insecure to skip verification';
  return `TLS certificate ${valid} (${fix})`;
}

/** The server speaks TLS but its certificate is not trusted (as opposed to a server that is not TLS at all). */
export function isCertificateError(err: unknown): boolean {
  const code = networkErrorCode(err);
  return code !== undefined && (code in TLS_REASONS || code.startsWith('ERR_TLS_CERT') || code.includes('CERT'));
}

/**
 * The server answered the TLS handshake with bytes no TLS server sends (plain HTTP's reply to a
 * ClientHello: OpenSSL's "wrong version number"): it speaks no TLS at all, unlike a refused
 * certificate or a server that hangs up.
 */
export function speaksNoTls(err: unknown): boolean {
  const code = networkErrorCode(err);
  return code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG' || (code === 'EPROTO' && /wrong version number|packet length too long/i.test(String((err as Error)?.message)));
}

/** The name of the TLS alert a server ended the handshake with (`BAD_CERTIFICATE`), from OpenSSL's error code. */
function tlsAlert(code: string | undefined): string | undefined {
  // ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE (Node 20), ERR_SSL_SSL/TLS_ALERT_BAD_CERTIFICATE (Node 24), ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED.
  return code?.match(/^ERR_SSL_.*ALERT_([A-Z0-9_]+)$/)?.[1];
}

export function isTlsAlert(err: unknown): boolean {
  return tlsAlert(networkErrorCode(err)) !== undefined;
}

/** Alerts by which a server says it wants a client certificate it trusts (Go's registry: bad certificate). */
const CLIENT_CERTIFICATE_ALERTS = new Set(['BAD_CERTIFICATE', 'CERTIFICATE_REQUIRED', 'UNKNOWN_CA', 'CERTIFICATE_UNKNOWN', 'CERTIFICATE_EXPIRED', 'CERTIFICATE_REVOKED', 'UNSUPPORTED_CERTIFICATE']);

/**
 * A failure to talk to the registry at all, as one line: `cannot reach <registry>: connection
 * refused`. Certificate problems name the flag that fixes them.
 */
export function networkError(registry: string, err: unknown, identity?: () => TlsIdentity): OcipushError {
  if (err instanceof OcipushError) return err;
  const code = networkErrorCode(err);
  const alert = tlsAlert(code);
  let reason = alert === undefined ? networkReason(err)
    : `the registry ended the TLS handshake (${alert.toLowerCase().replace(/_/g, ' ')})${CLIENT_CERTIFICATE_ALERTS.has(alert) ? `: ${clientCertificateHint(registry, identity?.() ?? {})}` : ''}`;
  // On this machine a refusal can mean only that nothing listens on the port: a registry not yet
  // started is a newcomer's first push. (Elsewhere a firewall may refuse too: no guess there.)
  if (code === 'ECONNREFUSED' && isLoopbackRegistry(registry)) reason += ' (no registry listens there: start one, or check the port)';
  return new OcipushError('ENETWORK', `cannot reach ${registry}: ${reason}`, { cause: err, networkCode: code, retryable: isTransientNetworkError(err) });
}

/** The client certificate a connection showed (none: undefined), and the --cert-dir it was looked for in. */
export interface TlsIdentity {
  certFile?: string;
  certDir?: string;
}

/**
 * Where the fix is: the certificate that was shown and refused, or the directory that was read and
 * held none. Pointing at certs.d when a --cert-dir was given, or at a missing certificate when one
 * was shown, sent the user to the wrong place.
 */
function clientCertificateHint(registry: string, { certFile, certDir }: TlsIdentity): string {
  if (certFile !== undefined) return `it refused the client certificate ${certFile} (is it signed by a CA the registry trusts, and still valid?)`;
  if (certDir !== undefined) return `it wants a client certificate it trusts, and --cert-dir ${certDir} holds none (NAME.cert beside NAME.key)`;
  return `it wants a client certificate it trusts (client.cert and client.key in /etc/docker/certs.d/${registry}/, or --cert-dir DIR)`;
}

/**
 * A request to a host the registry redirected it to (its blob storage: S3, a CDN) that failed
 * before an answer. Kept apart so that the one-line error names that host: "cannot reach
 * registry-1.docker.io: connection timed out" sent the user to open a firewall to a registry that
 * had answered, when the CDN it sent blobs to was what the firewall held back.
 */
export class RedirectedRequestFailure extends Error {
  constructor(readonly host: string, override readonly cause: unknown) {
    super((cause as Error)?.message ?? String(cause));
    this.name = 'RedirectedRequestFailure';
  }
}

/** `cannot reach <host>, where <registry> redirected the request: <reason>`, as networkError names the registry. */
export function redirectedNetworkError(registry: string, failure: RedirectedRequestFailure): OcipushError {
  const err = failure.cause;
  return new OcipushError('ENETWORK', `cannot reach ${failure.host}, where ${registry} redirected the request: ${networkReason(err, failure.host)}`, {
    cause: err,
    networkCode: networkErrorCode(err),
    retryable: isTransientNetworkError(err),
    redirectedTo: failure.host,
  });
}

/** What went wrong with a connection (to `server`), in a few words (`connection reset`, `unknown host` …). */
export function networkReason(err: unknown, server = 'the registry'): string {
  const code = networkErrorCode(err);
  let reason: string;
  switch (code) {
    case 'ECONNREFUSED': reason = 'connection refused'; break;
    case 'ENOTFOUND': case 'EAI_NONAME': case 'EAI_NODATA': case 'EAI_AGAIN': reason = 'unknown host'; break;
    case 'ECONNRESET': case 'UND_ERR_SOCKET': reason = 'connection reset'; break;
    case 'ETIMEDOUT': case 'UND_ERR_CONNECT_TIMEOUT': reason = 'connection timed out'; break;
    case 'UND_ERR_HEADERS_TIMEOUT': case 'UND_ERR_BODY_TIMEOUT': reason = `${server} stopped answering`; break;
    case 'ENETUNREACH': case 'EHOSTUNREACH': reason = 'network unreachable'; break;
    case 'EPROTO': case 'ERR_SSL_WRONG_VERSION_NUMBER':
      reason = server === 'the registry' ? 'TLS handshake failed (is it a plain HTTP registry? use --plain-http)' : 'TLS handshake failed'; break;
    default:
      if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') reason = nameMismatch(err, server);
      else if (code && TLS_REASONS[code]) reason = TLS_REASONS[code];
      else reason = oneLine((err as Error)?.message ?? String(err)) || code || 'network error';
  }
  return reason;
}

/** A 401 we could not answer: name the way to log in. */
export function authError(err: OcipushError, afterChallenge: boolean): OcipushError {
  const hint = afterChallenge
    ? ' (credentials refused)'
    : ' (authentication required: use --username with --password-stdin, or docker login)';
  return new OcipushError('EAUTH', `${err.message}${hint}`, err.details);
}
