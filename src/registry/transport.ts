import { accessSync, constants, readFileSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import type { Dispatcher, buildConnector } from 'undici';
import { undici } from './undici.js';
import { isTlsAlert } from './errors.js';
import { proxyDispatcher } from './proxy-dispatcher.js';
import { proxyEnvironment } from './proxy-env.js';
import { OcipushError, fromSystemError } from '../errors.js';
import { isLoopbackRegistry, isPort } from '../oci/reference.js';

/** node:tls, loaded on the first TLS setting: a plain-HTTP registry never pays for it (about 6-13 ms of a start). */
const tls = (): typeof import('node:tls') => createRequire(import.meta.url)('node:tls') as typeof import('node:tls');

export interface TransportOptions {
  /** Speak plain HTTP (automatic for localhost and 127.0.0.1). */
  plainHttp?: boolean;
  /** Accept any TLS certificate (self-signed registries); a registry that speaks no TLS is then spoken to over plain HTTP (HTTPS asked first). */
  insecure?: boolean;
  /** Extra PEM CA certificates to trust, besides the system's. */
  caFiles?: string[];
  /**
   * A directory of `*.crt` (CAs), `NAME.cert` + `NAME.key` (a client certificate) used instead of
   * the registry's certs.d directories, as skopeo's and podman's `--cert-dir`.
   */
  certDir?: string;
  /** Parallel connections kept per host; at least the upload concurrency. */
  connections?: number;
  /** How long a request (a token request too) waits for headers or for the next body bytes (default 120 s). */
  requestTimeoutMs?: number;
}

/** `https://host[:port]`, or `http://` for loopback registries and with --plain-http. */
export function registryOrigin(registry: string, options: Pick<TransportOptions, 'plainHttp'> = {}): string {
  const port = /^(?:\[[^\]]*\]|[^:]*):([0-9]+)$/.exec(registry)?.[1];
  if (port !== undefined && !isPort(port)) throw new OcipushError('EUSAGE', `registry ${registry}: port ${port} is out of range (1-65535)`);
  const plain = options.plainHttp === true || isLoopbackRegistry(registry);
  return originWithScheme(registry, plain ? 'http' : 'https');
}

/**
 * The origin as a URL names it (what every response's `url.origin` is compared with): the scheme's
 * own port left out (`reg.example.com:443` is `https://reg.example.com`), the host lowercased,
 * an IPv6 address in its short form. Written as typed, a registry named with `:443`, in capitals
 * or as `[0:0:0:0:0:0:0:1]` never matched its own answers, so its 401 challenge was not taken up.
 */
export function originWithScheme(registry: string, scheme: 'http' | 'https'): string {
  // Docker Hub's references say docker.io; its API lives elsewhere.
  const host = registry === 'docker.io' ? 'registry-1.docker.io' : registry;
  try { return new URL(`${scheme}://${host}`).origin; } catch { return `${scheme}://${host}`; }
}

/** Where Debian, Fedora, Alpine and macOS keep their trust bundle. */
const SYSTEM_BUNDLES = [
  '/etc/ssl/certs/ca-certificates.crt',
  '/etc/pki/tls/certs/ca-bundle.crt',
  '/etc/ssl/cert.pem',
  '/etc/ssl/ca-bundle.pem',
];

/**
 * Node trusts only its bundled Mozilla roots; registries inside companies are signed by CAs the
 * system trust store (and docker's per-registry `certs.d`) has. Passing `ca` replaces Node's list,
 * so the bundled roots, NODE_EXTRA_CA_CERTS, the system bundle, certs.d and --ca-file are joined,
 * each certificate once: they mostly hold the same roots (SSL_CERT_DIR=/etc/ssl/certs beside
 * SSL_CERT_FILE and NODE_EXTRA_CA_CERTS naming its bundle, as CI images set them, is each root
 * four times), and OpenSSL parsing every copy cost each command to a TLS registry 75 ms of CPU.
 */
export function trustedCAs(registry: string, extraPems: string[] = [], certDir?: string): string[] {
  const unique = new Map<string, string>();
  const add = (pem: string) => {
    for (const [block] of pem.matchAll(PEM_CERTIFICATE)) {
      const key = block.replace(/\s+/g, '');
      if (!unique.has(key)) unique.set(key, block);
    }
  };
  tls().rootCertificates.forEach(add);
  const optional = (path: string | undefined) => {
    if (!path) return;
    try { add(readFileSync(path, 'utf8')); } catch { /* absent: nothing to add */ }
  };
  optional(process.env.NODE_EXTRA_CA_CERTS);
  // As Go reads them (crane, skopeo, docker): an empty SSL_CERT_FILE is unset; SSL_CERT_DIR is
  // directories separated by ':', every file in them read for certificates (others are ignored).
  optional(process.env.SSL_CERT_FILE || SYSTEM_BUNDLES.find((p) => readable(p)));
  for (const dir of (process.env.SSL_CERT_DIR ?? '').split(':').filter(Boolean)) {
    let names: string[] = [];
    try { names = readdirSync(dir).sort(); } catch { /* absent: nothing to add */ }
    for (const name of names) optional(join(dir, name));
  }
  for (const { dir, names } of certsDirs(registry, certDir)) for (const name of names) if (name.endsWith('.crt')) optional(join(dir, name));
  extraPems.forEach(add);
  return [...unique.values()];
}

/** One certificate of a PEM file (OpenSSL's TRUSTED form too); whatever else a file holds (keys, text) is left out. */
const PEM_CERTIFICATE = /-----BEGIN (?:TRUSTED )?CERTIFICATE-----[^-]+-----END (?:TRUSTED )?CERTIFICATE-----/g;

/**
 * Where docker and podman/skopeo keep a registry's own TLS files (`ca.crt`, `client.cert`,
 * `client.key`): the user's own directory first, as containers/image reads it (where a CI job
 * that is not root can put them), then the system's.
 */
const certsRoots = () => [join(homedir(), '.config/containers/certs.d'), '/etc/docker/certs.d', '/etc/containers/certs.d'];

/** The registry's directories under certsRoots that exist (or `certDir` alone), each with its file names, sorted. */
function certsDirs(registry: string, certDir?: string): { dir: string; names: string[] }[] {
  if (certDir !== undefined) {
    try { return [{ dir: certDir, names: readdirSync(certDir).sort() }]; } catch (err) { throw fromSystemError(err, certDir, 'cannot read --cert-dir'); }
  }
  const found: { dir: string; names: string[] }[] = [];
  for (const root of certsRoots()) {
    const dir = join(root, registry);
    try { found.push({ dir, names: readdirSync(dir).sort() }); } catch { /* absent */ }
  }
  return found;
}

/**
 * The client certificate a registry that asks for one (mutual TLS) is shown, as docker and
 * containers/image find it: a `NAME.cert` beside its `NAME.key` in the registry's certs.d
 * directory (the first pair by name; the user's directory first, then docker's). A certificate without its key,
 * or a key without its certificate, is an error there too: the CA is the one named `.crt`.
 */
export function clientCertificate(registry: string, certDir?: string): { cert: string; key: string; certFile: string } | undefined {
  for (const { dir, names } of certsDirs(registry, certDir)) {
    for (const name of names) {
      const other = name.endsWith('.cert') ? `${name.slice(0, -5)}.key` : name.endsWith('.key') ? `${name.slice(0, -4)}.cert` : undefined;
      if (other !== undefined && !names.includes(other)) {
        throw new OcipushError('EUSAGE', `${join(dir, name)} has no ${other} beside it (a client certificate needs both; a CA certificate is named *.crt)`, { path: join(dir, name) });
      }
    }
    const certName = names.find((n) => n.endsWith('.cert'));
    if (certName === undefined) continue;
    const certFile = join(dir, certName);
    const keyFile = join(dir, `${certName.slice(0, -5)}.key`);
    let cert: string;
    let key: string;
    try { cert = readFileSync(certFile, 'utf8'); } catch (err) { throw fromSystemError(err, certFile, 'cannot read client certificate'); }
    try { key = readFileSync(keyFile, 'utf8'); } catch (err) { throw fromSystemError(err, keyFile, 'cannot read client key'); }
    return { cert, key, certFile };
  }
  return undefined;
}

/** The `--ca-file` certificates, read at once so that a wrong path fails before any request. */
export function readCaFiles(caFiles: string[] = []): string[] {
  return caFiles.map((file) => {
    let pem: string;
    try { pem = readFileSync(file, 'utf8'); } catch (err) { throw fromSystemError(err, file, 'cannot read CA file'); }
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
      throw new OcipushError('EUSAGE', `--ca-file ${file}: not a PEM certificate`, { path: file });
    }
    return pem;
  });
}

function readable(path: string): boolean {
  try { accessSync(path, constants.R_OK); return true; } catch { return false; }
}

/**
 * One kept-alive connection pool per host the registry sends us to (the registry itself, and the
 * blob storage it may redirect to). With HTTP_PROXY / HTTPS_PROXY set, requests go through the
 * proxy the environment names for their URL (proxy-env.ts), with the same pool settings and TLS.
 */
export function createDispatcher(registry: string, options: TransportOptions = {}): Dispatcher {
  const pool = {
    connections: Math.max(2, options.connections ?? 8),
    keepAliveTimeout: 30_000,
    keepAliveMaxTimeout: 120_000,
    headersTimeout: options.requestTimeoutMs ?? 120_000,
    bodyTimeout: options.requestTimeoutMs ?? 120_000,
  };
  const caPems = readCaFiles(options.caFiles);
  if (options.certDir !== undefined) certsDirs(registry, options.certDir);
  const tls = once(() => tlsSettings(registry, options.insecure === true, caPems, options.certDir));
  // The connection and its TLS handshake are part of the request's wait: a host that takes the
  // connection and never finishes the handshake (a port that is not the registry's, a balancer
  // with nothing behind it) held every attempt 30 s, past a shorter --request-timeout or --timeout.
  const connect = { timeout: Math.min(CONNECT_MS, pool.headersTimeout) };
  const direct = new undici.Agent({ ...pool, connect: lazyConnector(tls, connect) });
  const environment = proxyEnvironment();
  return environment ? proxyDispatcher(direct, { environment, pool, connect, tls: () => ({ ...connect, ...tls() }), onTlsSocket: keepTlsAlerts }) : direct;
}

/** As Go's net.Dialer of crane, skopeo and docker: 30 s for a connection, unless a request may wait less. */
const CONNECT_MS = 30_000;

/**
 * Builds the TLS settings only when a TLS connection is first made: one secure context for every
 * connection (parsing a system bundle per handshake is wasteful), and none at all for a
 * plain-HTTP registry, where reading the trust stores was a fifth of a warm push.
 */
function lazyConnector(tlsOptions: () => Record<string, unknown>, connect: { timeout: number }): buildConnector.connector {
  let plain: buildConnector.connector | undefined;
  let tls: buildConnector.connector | undefined;
  return (opts, callback) => {
    if (opts.protocol !== 'https:') return (plain ??= undici.buildConnector(connect))(opts, callback);
    try {
      tls ??= undici.buildConnector({ ...connect, ...tlsOptions() });
    } catch (err) {
      callback(err as Error, null);
      return;
    }
    return tls(opts, (...answer) => {
      if (answer[1]) keepTlsAlerts(answer[1]);
      callback(...answer);
    });
  };
}

/**
 * A server that ends the handshake with an alert (most often: it wants a client certificate it
 * trusts) reaches undici as the alert's error and then the end of the stream, whose "other side
 * closed" replaces it. Ending the socket with the alert keeps the cause for the one-line error.
 */
function keepTlsAlerts(socket: Socket): void {
  socket.on('error', (err: NodeJS.ErrnoException) => {
    if (isTlsAlert(err) && !socket.destroyed) socket.destroy(err);
  });
}

/** The value of `make`, computed on first call; a failure is not kept, the next call tries again. */
function once<T>(make: () => T): () => T {
  let done = false;
  let value: T;
  return () => {
    if (!done) { value = make(); done = true; }
    return value;
  };
}

function tlsSettings(registry: string, insecure: boolean, caPems: string[], certDir: string | undefined): Record<string, unknown> {
  const client = clientCertificate(registry, certDir);
  const identity = client ? { cert: client.cert, key: client.key } : {};
  if (insecure) return { rejectUnauthorized: false, ...identity };
  // A CA given is trusted as it is, an intermediate too, as Go trusts every certificate of its pool:
  // companies hand out the CA that issues their servers' certificates, and without this OpenSSL
  // looked for that CA's own issuer ("unable to get issuer certificate") where skopeo and crane connect.
  if (caPems.length > 0 || hasExtraTrust(registry, certDir)) return { secureContext: secureContext({ ca: trustedCAs(registry, caPems, certDir), allowPartialTrustChain: true, ...identity }, client?.certFile) };
  return client ? { secureContext: secureContext(identity, client.certFile) } : {};
}

/** A secure context; a client certificate or key that does not parse is named, never quoted. */
function secureContext(options: { ca?: string[]; allowPartialTrustChain?: boolean; cert?: string; key?: string }, certFile?: string) {
  try {
    return tls().createSecureContext(options);
  } catch (err) {
    if (certFile === undefined || options.cert === undefined) throw err;
    const reason = (err as NodeJS.ErrnoException).code ?? 'invalid';
    throw new OcipushError('EUSAGE', `client certificate ${certFile} or its key cannot be used (${reason})`, { path: certFile });
  }
}

/** Whether the system has trust Node would not see on its own (the common case on Linux). */
function hasExtraTrust(registry: string, certDir: string | undefined): boolean {
  if (process.env.NODE_EXTRA_CA_CERTS || process.env.SSL_CERT_FILE || process.env.SSL_CERT_DIR) return true;
  if (SYSTEM_BUNDLES.some((p) => readable(p))) return true;
  return certsDirs(registry, certDir).some(({ names }) => names.length > 0);
}
