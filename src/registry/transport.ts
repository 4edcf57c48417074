import { accessSync, constants, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createSecureContext, rootCertificates } from 'node:tls';
import { Agent } from 'undici';
import { OcipushError, fromSystemError } from '../errors.js';
import { isLoopbackRegistry } from '../oci/reference.js';

export interface TransportOptions {
  /** Speak plain HTTP (automatic for localhost and 127.0.0.1). */
  plainHttp?: boolean;
  /** Accept any TLS certificate (self-signed registries). */
  insecure?: boolean;
  /** Extra PEM CA certificates to trust, besides the system's. */
  caFiles?: string[];
  /** Parallel connections kept per host; at least the upload concurrency. */
  connections?: number;
}

/** `https://host[:port]`, or `http://` for loopback registries and with --plain-http. */
export function registryOrigin(registry: string, options: Pick<TransportOptions, 'plainHttp'> = {}): string {
  const plain = options.plainHttp === true || isLoopbackRegistry(registry);
  return originWithScheme(registry, plain ? 'http' : 'https');
}

export function originWithScheme(registry: string, scheme: 'http' | 'https'): string {
  // Docker Hub's references say docker.io; its API lives elsewhere.
  const host = registry === 'docker.io' ? 'registry-1.docker.io' : registry;
  return `${scheme}://${host}`;
}

export function usesPlainHttp(registry: string, options: Pick<TransportOptions, 'plainHttp'> = {}): boolean {
  return registryOrigin(registry, options).startsWith('http:');
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
 * so the bundled roots, NODE_EXTRA_CA_CERTS, the system bundle, certs.d and --ca-file are joined.
 */
export function trustedCAs(registry: string, caFiles: string[] = []): string[] {
  const cas: string[] = [...rootCertificates];
  const optional = (path: string | undefined) => {
    if (!path) return;
    try { cas.push(readFileSync(path, 'utf8')); } catch { /* absent: nothing to add */ }
  };
  optional(process.env.NODE_EXTRA_CA_CERTS);
  optional(process.env.SSL_CERT_FILE ?? SYSTEM_BUNDLES.find((p) => readable(p)));
  for (const dir of ['/etc/docker/certs.d', '/etc/containers/certs.d']) {
    const hostDir = join(dir, registry);
    let names: string[] = [];
    try { names = readdirSync(hostDir); } catch { continue; }
    for (const name of names) if (name.endsWith('.crt')) optional(join(hostDir, name));
  }
  for (const file of caFiles) {
    let pem: string;
    try { pem = readFileSync(file, 'utf8'); } catch (err) { throw fromSystemError(err, file, 'cannot read CA file'); }
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
      throw new OcipushError('EUSAGE', `--ca-file ${file}: not a PEM certificate`, { path: file });
    }
    cas.push(pem);
  }
  return cas;
}

function readable(path: string): boolean {
  try { accessSync(path, constants.R_OK); return true; } catch { return false; }
}

/**
 * One kept-alive connection pool per host the registry sends us to (the registry itself, and the
 * blob storage it may redirect to).
 */
export function createDispatcher(registry: string, options: TransportOptions = {}): Agent {
  const connect: Record<string, unknown> = { timeout: 30_000 };
  // Loopback registries may turn out to speak TLS (see RegistryClient), so only an explicit
  // --plain-http leaves the TLS settings out.
  if (options.plainHttp !== true) {
    if (options.insecure) connect.rejectUnauthorized = false;
    // One secure context for every connection: parsing a system bundle per handshake is wasteful.
    else if ((options.caFiles?.length ?? 0) > 0 || hasExtraTrust(registry)) connect.secureContext = createSecureContext({ ca: trustedCAs(registry, options.caFiles) });
  }
  return new Agent({
    connections: Math.max(2, options.connections ?? 8),
    keepAliveTimeout: 30_000,
    keepAliveMaxTimeout: 120_000,
    headersTimeout: 120_000,
    bodyTimeout: 120_000,
    connect,
  });
}

/** Whether the system has trust Node would not see on its own (the common case on Linux). */
function hasExtraTrust(registry: string): boolean {
  if (process.env.NODE_EXTRA_CA_CERTS || process.env.SSL_CERT_FILE) return true;
  if (SYSTEM_BUNDLES.some((p) => readable(p))) return true;
  return ['/etc/docker/certs.d', '/etc/containers/certs.d'].some((d) => {
    try { return readdirSync(join(d, registry)).length > 0; } catch { return false; }
  });
}
