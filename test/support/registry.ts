import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { after, before } from 'node:test';
import { makeSelfSignedCert } from './certs.js';
import { killOnExit, removeOnExit } from './exit-cleanup.js';
import { requireTool, run, tempDir } from './tools.js';

/** One request as the registry itself logged it (its Apache-style access log on stdout). */
export interface AccessEntry {
  method: string;
  /** The request path without the query string, e.g. `/v2/app/blobs/uploads/<uuid>`. */
  path: string;
  /** The request target as sent, query string included. */
  uri: string;
  status: number;
  /** Response body bytes the registry wrote. */
  bytes: number;
  userAgent: string;
}

/** What the registry needs to trust a token issuer (a TokenIssuer has all of these). */
export interface TokenAuthConfig {
  /** Where clients are sent for tokens (the Bearer challenge's realm). */
  realm: string;
  service: string;
  issuer: string;
  /** PEM certificate(s) whose keys may sign tokens. */
  certFile: string;
}

export type RegistryAuth =
  | { htpasswd: { users: Record<string, string>; realm?: string } }
  | { token: TokenAuthConfig };

export interface RegistryOptions {
  auth?: RegistryAuth;
  /** Serve HTTPS with a fresh self-signed certificate (SAN IP:127.0.0.1, DNS:localhost). */
  tls?: boolean;
  /**
   * With `tls`: require a client certificate (mutual TLS, distribution's `http.tls.clientcas`).
   * A fresh self-signed client certificate is made and is the one CA the registry accepts.
   */
  clientAuth?: boolean;
  /**
   * With `tls`: serve this certificate (or chain, leaf first) and key instead of a fresh
   * self-signed one; `caFile` is what a client is to trust for it (RunningRegistry.caFile). The
   * harness's own probes do not check it, so it may be expired or name another host.
   */
  serverCert?: { certFile: string; keyFile: string; caFile: string };
  /**
   * Accept manifests naming foreign (non-distributable) layers whose URLs match this regular
   * expression (distribution's `validation.manifests.urls.allow`; without it distribution 2.8
   * refuses every such manifest with "invalid URL on layer").
   */
  foreignLayerUrls?: string;
  /** Accept Docker schema 1 manifests (`compatibility.schema1.enabled`), as registries holding pre-2017 images do. */
  schema1?: boolean;
  /** Reuse this storage directory (e.g. to restart a registry over the same content); it is not removed on stop. */
  storageDir?: string;
  /**
   * Answer blob GETs with a redirect to this URL + the blob's path in the storage directory
   * (distribution's `redirect` storage middleware), as registries backed by S3 or a CDN do: a
   * server there must serve the storage directory's files.
   */
  blobRedirect?: string;
  /** Where a port to try is found (default freePort); each attempt asks again. */
  choosePort?: () => Promise<number>;
}

export interface RunningRegistry {
  /** `127.0.0.1:PORT`, the registry part of an image reference. */
  host: string;
  /** `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`. */
  url: string;
  port: number;
  /** The docker-registry process id. */
  pid: number;
  storageDir: string;
  /** With `tls`: the PEM certificate to trust (also a valid `--cert-dir` for skopeo/podman as `certDir`). */
  caFile?: string;
  /** With `tls`: a directory holding only `ca.crt`, for `skopeo --dest-cert-dir` / `--src-cert-dir`. */
  certDir?: string;
  /** With `clientAuth`: the client certificate and key the registry accepts (PEM files). */
  clientCert?: { certFile: string; keyFile: string };
  /** Requests logged so far, oldest first (harness probes excluded). */
  accessLog(): AccessEntry[];
  /**
   * The access log once every request that has already been answered is in it: the registry
   * writes a log line just after the response, so a line can trail the client by a moment.
   * This sends a marker request and waits for its line.
   */
  settledAccessLog(): Promise<AccessEntry[]>;
  /**
   * Resolves with the first logged request (oldest first, cleared ones excluded) that `match`
   * accepts, waiting for it up to `timeoutMs`. For requests whose outcome the registry decides
   * after the client has gone (a PATCH cut mid-body is logged once the registry notices).
   */
  waitForAccess(match: (entry: AccessEntry) => boolean, timeoutMs?: number): Promise<AccessEntry>;
  /** Forgets the entries logged so far (counts then start from zero). */
  clearAccessLog(): void;
  /**
   * Waits for the lines of every request already answered (as settledAccessLog), then forgets
   * them all: what a test counts next is its own, not a line trailing an earlier CLI run.
   */
  forgetAccessLog(): Promise<void>;
  /** Everything the registry printed (its JSON log on stderr and access log on stdout), for failure messages. */
  logs(): string;
  stop(): Promise<void>;
}

const PROBE_AGENT = 'ocipush-harness-probe';
const START_TIMEOUT_MS = 15_000;
const START_ATTEMPTS = 4;
/** The header in which a registry of this harness marks its answers as its own. */
const MARK_HEADER = 'X-Ocipush-Harness-Registry';

/** A registry and a scratch directory that the tests of one file or `describe` share. */
export interface RegistryFixture {
  readonly registry: RunningRegistry;
  readonly tmp: { path: string; cleanup: () => Promise<void> };
}

/**
 * Registers, in the file or `describe` it is called in, a `before` hook that starts a registry and
 * makes a temp directory, and an `after` hook that stops and removes them. The fields are there
 * from the first test (or a `before` hook registered after this call) on.
 */
export function registryFixture(options: RegistryOptions = {}): RegistryFixture {
  let registry: RunningRegistry | undefined;
  let tmp: RegistryFixture['tmp'] | undefined;
  before(async () => {
    tmp = await tempDir();
    registry = await startRegistry(options);
  });
  after(async () => {
    await registry?.stop();
    await tmp?.cleanup();
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('registryFixture read before its before hook ran');
    return value;
  };
  return { get registry() { return started(registry); }, get tmp() { return started(tmp); } };
}

export async function startRegistry(options: RegistryOptions = {}): Promise<RunningRegistry> {
  requireTool('docker-registry');
  const dir = await mkdtemp(join(tmpdir(), 'ocipush-registry-'));
  const forgetDir = removeOnExit(dir);
  try {
    const storageDir = options.storageDir ?? join(dir, 'storage');
    const auth = await writeAuthFiles(dir, options.auth);
    let tls: { certFile: string; keyFile: string; certDir: string; served?: string; client?: { certFile: string; keyFile: string } } | undefined;
    if (options.tls) {
      const cert = options.serverCert ?? makeSelfSignedCert(dir, 'server', '/CN=localhost', ['IP:127.0.0.1', 'DNS:localhost']);
      // The cert dir holds the certificate alone: skopeo and podman read a *.key there as a client key.
      const certDir = join(dir, 'certs');
      await mkdir(certDir);
      await copyFile(options.serverCert?.caFile ?? cert.certFile, join(certDir, 'ca.crt'));
      tls = { certFile: join(certDir, 'ca.crt'), keyFile: cert.keyFile, certDir, ...(options.serverCert ? { served: options.serverCert.certFile } : {}) };
      if (options.clientAuth) tls.client = makeSelfSignedCert(dir, 'client', '/CN=ocipush-test-client');
    }
    // A free port found by binding :0 can be taken by someone else before the registry binds
    // it; retry with a new one when that happens.
    for (let attempt = 1; ; attempt++) {
      const port = await (options.choosePort ?? freePort)();
      const configFile = join(dir, 'config.yml');
      // Every answer of this registry carries its own mark: the probe takes no other server on
      // the port (a registry of another test that won the port) for it.
      const mark = randomBytes(8).toString('hex');
      await writeFile(configFile, registryConfig({ port, mark, storageDir, auth, tls, foreignLayerUrls: options.foreignLayerUrls, schema1: options.schema1, blobRedirect: options.blobRedirect }));
      const started = await launch(configFile, dir, port, mark, tls?.certFile, tls?.client, tls?.served !== undefined);
      if ('registry' in started) {
        return finish(started.registry, { dir, forgetDir, storageDir, tls });
      }
      if (!started.portTaken || attempt >= START_ATTEMPTS) throw new Error(started.message);
    }
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    forgetDir();
    throw err;
  }
}

interface AuthFiles {
  htpasswd?: { path: string; realm: string };
  token?: TokenAuthConfig;
}

async function writeAuthFiles(dir: string, auth: RegistryAuth | undefined): Promise<AuthFiles> {
  if (!auth) return {};
  if ('token' in auth) return { token: auth.token };
  requireTool('htpasswd');
  const lines = Object.entries(auth.htpasswd.users).map(([user, password]) =>
    // -i reads the password from stdin so it never shows in a process listing.
    run('htpasswd', ['-Bin', user], { input: password }).trim(),
  );
  const path = join(dir, 'htpasswd');
  await writeFile(path, lines.join('\n') + '\n', { mode: 0o600 });
  return { htpasswd: { path, realm: auth.htpasswd.realm ?? 'ocipush-test' } };
}

/** YAML by hand: every scalar is written as a JSON string, which YAML reads as a quoted string. */
function registryConfig(c: { port: number; mark: string; storageDir: string; auth: AuthFiles; tls?: { certFile: string; keyFile: string; served?: string; client?: { certFile: string } }; foreignLayerUrls?: string; schema1?: boolean; blobRedirect?: string }): string {
  const q = (s: string) => JSON.stringify(s);
  const lines = [
    'version: 0.1',
    'log:',
    '  level: info',
    '  formatter: json',
    '  accesslog:',
    '    disabled: false',
    'storage:',
    '  cache:',
    '    blobdescriptor: inmemory',
    '  filesystem:',
    `    rootdirectory: ${q(c.storageDir)}`,
    '  delete:',
    '    enabled: true',
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    'http:',
    `  addr: ${q(`127.0.0.1:${c.port}`)}`,
    // A fixed secret silences the "No HTTP secret" warning; uploads are signed with it.
    `  secret: ${q(randomBytes(16).toString('hex'))}`,
    '  headers:',
    '    X-Content-Type-Options: [nosniff]',
    `    ${MARK_HEADER}: [${q(c.mark)}]`,
  ];
  if (c.tls) {
    lines.push('  tls:', `    certificate: ${q(c.tls.served ?? c.tls.certFile)}`, `    key: ${q(c.tls.keyFile)}`);
    if (c.tls.client) lines.push('    clientcas:', `      - ${q(c.tls.client.certFile)}`);
  }
  if (c.auth.htpasswd) {
    lines.push('auth:', '  htpasswd:', `    realm: ${q(c.auth.htpasswd.realm)}`, `    path: ${q(c.auth.htpasswd.path)}`);
  } else if (c.auth.token) {
    const t = c.auth.token;
    lines.push(
      'auth:', '  token:',
      `    realm: ${q(t.realm)}`, `    service: ${q(t.service)}`, `    issuer: ${q(t.issuer)}`, `    rootcertbundle: ${q(t.certFile)}`,
    );
  }
  if (c.schema1) lines.push('compatibility:', '  schema1:', '    enabled: true');
  if (c.blobRedirect !== undefined) lines.push('middleware:', '  storage:', '    - name: redirect', '      options:', `        baseurl: ${q(c.blobRedirect)}`);
  if (c.foreignLayerUrls !== undefined) lines.push('validation:', '  manifests:', '    urls:', '      allow:', `        - ${q(c.foreignLayerUrls)}`);
  return lines.join('\n') + '\n';
}

interface Launched {
  child: ChildProcess;
  port: number;
  scheme: 'http' | 'https';
  ca?: ProbeTls;
  out: LogCapture;
  forgetChild: () => void;
}

type LaunchResult = { registry: Launched } | { message: string; portTaken: boolean };

async function launch(configFile: string, cwd: string, port: number, mark: string, caFile: string | undefined, client?: { certFile: string; keyFile: string }, unchecked = false): Promise<LaunchResult> {
  // setpriv --pdeathsig: the kernel kills the registry if this test process dies without
  // running its exit handlers (SIGKILL, a crash), so no registry outlives its test.
  // The registry writes its logs into files, never into a pipe: a pipe this process did not drain
  // (while a test runs a synchronous child, say) would fill and stall every request.
  const out = new LogCapture(join(cwd, `registry-${port}`));
  let child: ChildProcess;
  try {
    child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', 'docker-registry', 'serve', configFile], {
      cwd,
      stdio: ['ignore', out.stdoutFd, out.stderrFd],
    });
  } finally {
    out.closeWriters();
  }
  const forgetChild = killOnExit(child);
  child.once('exit', () => out.close());
  const exited = new Promise<string>((resolve) => {
    child.once('error', (err) => resolve(`cannot run docker-registry: ${err.message}`));
    child.once('exit', (code, signal) => resolve(`docker-registry exited (${signal ?? `code ${code}`}) before answering`));
  });
  const scheme = caFile ? 'https' : 'http';
  const ca: ProbeTls | undefined = caFile
    ? { ca: readFileSync(caFile), ...(client ? { cert: readFileSync(client.certFile), key: readFileSync(client.keyFile) } : {}), ...(unchecked ? { rejectUnauthorized: false } : {}) }
    : undefined;
  const ready = waitUntilAnswering(scheme, port, ca, mark);
  const outcome = await Promise.race([ready.then(() => null), exited]);
  if (outcome === null) return { registry: { child, port, scheme, ca, out, forgetChild } };
  ready.cancel();
  await stopChild(child);
  forgetChild();
  const logs = out.text();
  return {
    message: `${outcome}:\n${logs.split('\n').slice(-15).join('\n')}`,
    portTaken: /address already in use/.test(logs),
  };
}

function finish(
  launched: Launched,
  ctx: { dir: string; forgetDir: () => void; storageDir: string; tls?: { certFile: string; certDir: string; client?: { certFile: string; keyFile: string } } },
): RunningRegistry {
  const { child, port, scheme, ca, out } = launched;
  let sentinel = 0;
  let stopped: Promise<void> | undefined;
  return {
    host: `127.0.0.1:${port}`,
    url: `${scheme}://127.0.0.1:${port}`,
    port,
    pid: child.pid!,
    storageDir: ctx.storageDir,
    caFile: ctx.tls?.certFile,
    certDir: ctx.tls?.certDir,
    ...(ctx.tls?.client ? { clientCert: ctx.tls.client } : {}),
    accessLog: () => out.entries(),
    async settledAccessLog() {
      const marker = `/v2/?harness-settle=${++sentinel}`;
      await probe(scheme, port, ca, marker);
      await out.waitFor((e) => e.uri === marker, child, 10_000, `access log line for ${marker}`);
      return out.entries();
    },
    waitForAccess: (match, timeoutMs = 10_000) =>
      out.waitFor((e) => e.userAgent !== PROBE_AGENT && match(e), child, timeoutMs, 'a matching access log line'),
    clearAccessLog: () => out.clear(),
    async forgetAccessLog() {
      await this.settledAccessLog();
      out.clear();
    },
    logs: () => out.text(),
    stop() {
      stopped ??= (async () => {
        await stopChild(child);
        launched.forgetChild();
        // Holds config, certs and (unless the caller brought its own) the storage.
        await rm(ctx.dir, { recursive: true, force: true });
        ctx.forgetDir();
      })();
      return stopped;
    },
  };
}

/**
 * Reads the registry's output from the files it writes (its access log on stdout, its JSON log on
 * stderr) whenever a caller asks, and parses the access log lines.
 */
class LogCapture {
  readonly stdoutFd: number;
  readonly stderrFd: number;
  private readonly readers: { fd: number; decoder: StringDecoder; access: boolean }[];
  private all: string[] = [];
  private partial = '';
  private parsed: AccessEntry[] = [];
  private closed = false;

  constructor(prefix: string) {
    this.stdoutFd = openSync(`${prefix}.stdout.log`, 'w');
    this.stderrFd = openSync(`${prefix}.stderr.log`, 'w');
    this.readers = [
      { fd: openSync(`${prefix}.stdout.log`, 'r'), decoder: new StringDecoder('utf8'), access: true },
      { fd: openSync(`${prefix}.stderr.log`, 'r'), decoder: new StringDecoder('utf8'), access: false },
    ];
  }

  /** The child holds its own copies of the write ends. */
  closeWriters(): void {
    closeSync(this.stdoutFd);
    closeSync(this.stderrFd);
  }

  /** After the child exits: what it wrote last is read, then the files are let go. */
  close(): void {
    if (this.closed) return;
    this.pull();
    this.closed = true;
    for (const r of this.readers) closeSync(r.fd);
  }

  private pull(): void {
    if (this.closed) return;
    const buf = Buffer.allocUnsafe(64 * 1024);
    for (const r of this.readers) {
      for (let n; (n = readSync(r.fd, buf, 0, buf.length, null)) > 0;) {
        const chunk = r.decoder.write(buf.subarray(0, n));
        this.all.push(chunk);
        if (r.access) this.parse(chunk);
      }
    }
  }

  private parse(chunk: string): void {
    const lines = (this.partial + chunk).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) {
      const entry = parseAccessLine(line);
      if (entry) this.parsed.push(entry);
    }
  }

  entries(): AccessEntry[] {
    this.pull();
    return this.parsed.filter((e) => e.userAgent !== PROBE_AGENT);
  }

  clear(): void {
    this.pull();
    this.parsed = [];
  }

  text(): string {
    this.pull();
    return this.all.join('');
  }

  async waitFor(match: (entry: AccessEntry) => boolean, child: ChildProcess, timeoutMs: number, what: string): Promise<AccessEntry> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.pull();
      const found = this.parsed.find(match);
      if (found) return found;
      if (child.exitCode !== null || child.signalCode !== null) throw new Error('docker-registry has exited');
      if (Date.now() > deadline) throw new Error(`${what} did not arrive within ${timeoutMs}ms`);
      await new Promise<void>((resolve) => setTimeout(resolve, 10));
    }
  }
}

// 127.0.0.1 - - [24/Nov/2026:10:30:51 +0000] "GET /v2/ HTTP/1.1" 200 2 "" "curl/7.88.1"
const ACCESS_LINE = /^\S+ \S+ \S+ \[[^\]]*\] "(\S+) (\S+) [^"]*" (\d{3}) (\d+|-) "(?:[^"\\]|\\.)*" "((?:[^"\\]|\\.)*)"/;

export function parseAccessLine(line: string): AccessEntry | undefined {
  const m = ACCESS_LINE.exec(line);
  if (!m) return undefined;
  const uri = m[2];
  const q = uri.indexOf('?');
  return {
    method: m[1],
    path: q === -1 ? uri : uri.slice(0, q),
    uri,
    status: Number(m[3]),
    bytes: m[4] === '-' ? 0 : Number(m[4]),
    userAgent: m[5].replace(/\\(.)/g, '$1'),
  };
}

function waitUntilAnswering(scheme: 'http' | 'https', port: number, ca: ProbeTls | undefined, mark: string): Promise<void> & { cancel(): void } {
  let cancelled = false;
  const done = (async () => {
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!cancelled) {
      try {
        const { status, marked } = await probe(scheme, port, ca, '/v2/');
        if ((status === 200 || status === 401) && marked === mark) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`docker-registry did not answer on port ${port} within ${START_TIMEOUT_MS / 1000}s`);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  done.catch(() => undefined);
  return Object.assign(done, { cancel: () => { cancelled = true; } });
}

/** What the harness's own probes trust (and, for a registry requiring one, the client certificate they show). */
interface ProbeTls { ca: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized?: boolean }

function probe(scheme: 'http' | 'https', port: number, ca: ProbeTls | undefined, path: string): Promise<{ status: number; marked: unknown }> {
  return new Promise((resolve, reject) => {
    const lib = scheme === 'https' ? https : http;
    const req = lib.request(
      { host: '127.0.0.1', port, path, method: 'GET', agent: false, ...ca, headers: { 'user-agent': PROBE_AGENT }, timeout: 2000 },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, marked: res.headers[MARK_HEADER.toLowerCase()] }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('probe timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** SIGTERM, then SIGKILL after 5 s; resolves once the child has exited. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** A port on 127.0.0.1 that was free a moment ago (another process may still take it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
