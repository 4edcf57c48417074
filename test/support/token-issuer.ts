import { X509Certificate, createPrivateKey, randomUUID, sign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeSelfSignedCert } from './certs.js';
import { removeOnExit } from './exit-cleanup.js';

/**
 * A Docker token server (the "token" auth of docker/distribution): the registry sends clients
 * here with a Bearer challenge, they ask for scopes, and get a signed JWT naming what they may do.
 */

/** Which actions ("pull", "push", "delete", "*") a caller may have on one resource. */
export type AccessPolicy = (name: string, type: string) => string[];

export interface TokenUser {
  password: string;
  /** Defaults to everything asked for. */
  access?: AccessPolicy;
}

export interface TokenIssuerOptions {
  /** Looked up on every request, so a test may add or change users while the issuer runs. */
  users?: Record<string, TokenUser>;
  /** What a caller without credentials may do; defaults to nothing (an empty token, as distribution's reference server does). */
  anonymous?: AccessPolicy;
  /** The registry's service name (the token audience). */
  service?: string;
  issuer?: string;
  /**
   * Token lifetime in seconds (default 300), or one per token request (0 for the first): a
   * negative one past the registry's 60 s of allowed clock skew makes a token it refuses at once.
   */
  expiresIn?: number | ((request: number) => number);
  /**
   * Refuse a bad password or refresh token in the OAuth2 POST as RFC 6749 §5.2 does, and as
   * OAuth2 servers in front of registries do: 400 `{"error":"invalid_grant"}`, not distribution's 401.
   */
  oauth2Errors?: boolean;
}

export interface ResourceActions {
  type: string;
  name: string;
  actions: string[];
}

/** One token request as the issuer saw it. Passwords are never recorded. */
export interface TokenRequest {
  method: string;
  /** `password` / `refresh_token` for the OAuth2 POST form; undefined for the GET form. */
  grantType?: string;
  service?: string;
  /** The `scope` values asked for, as sent (one entry per scope). */
  scopes: string[];
  /** The `account` query parameter, if any. */
  account?: string;
  /** The user the credentials named (even when they were wrong). */
  user?: string;
  /** Whether the request carried credentials (Basic auth, a password grant or a refresh token). */
  credentials: boolean;
  status: number;
  /** What the issued token grants (empty when refused). */
  granted: ResourceActions[];
}

export interface TokenIssuer {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** `http://127.0.0.1:PORT/token`, the realm to configure in the registry. */
  realm: string;
  service: string;
  issuer: string;
  /** PEM certificate of the signing key: the registry's rootcertbundle. */
  certFile: string;
  users: Record<string, TokenUser>;
  requests(): TokenRequest[];
  clearRequests(): void;
  stop(): Promise<void>;
}

export async function startTokenIssuer(options: TokenIssuerOptions = {}): Promise<TokenIssuer> {
  const dir = await mkdtemp(join(tmpdir(), 'ocipush-token-'));
  const forgetDir = removeOnExit(dir);
  const cert = makeSelfSignedCert(dir, 'signer', '/CN=ocipush-test-token-issuer');
  const signer: Signer = {
    key: createPrivateKey(readFileSync(cert.keyFile)),
    // x5c: the registry checks this chain against its rootcertbundle and takes the key from it.
    x5c: [new X509Certificate(readFileSync(cert.certFile)).raw.toString('base64')],
  };
  const settings: Settings = {
    users: options.users ?? {},
    anonymous: options.anonymous ?? (() => []),
    service: options.service ?? 'ocipush-test-registry',
    issuer: options.issuer ?? 'ocipush-test-issuer',
    expiresIn: options.expiresIn ?? 300,
    oauth2Errors: options.oauth2Errors === true,
  };
  const log: TokenRequest[] = [];
  const refreshTokens = new Map<string, string>();

  const server = http.createServer((req, res) => {
    handle(req, res, { settings, signer, log, refreshTokens }).catch((err) => {
      if (!res.headersSent) sendJson(res, 500, { errors: [{ code: 'UNKNOWN', message: String(err) }] });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  let stopped: Promise<void> | undefined;
  return {
    url,
    realm: `${url}/token`,
    service: settings.service,
    issuer: settings.issuer,
    certFile: cert.certFile,
    users: settings.users,
    requests: () => log.map((r) => ({ ...r, scopes: [...r.scopes], granted: r.granted.map((g) => ({ ...g, actions: [...g.actions] })) })),
    clearRequests: () => { log.length = 0; },
    stop() {
      stopped ??= (async () => {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await rm(dir, { recursive: true, force: true });
        forgetDir();
      })();
      return stopped;
    },
  };
}

interface Settings {
  users: Record<string, TokenUser>;
  anonymous: AccessPolicy;
  service: string;
  issuer: string;
  expiresIn: number | ((request: number) => number);
  oauth2Errors: boolean;
}

interface Signer {
  key: KeyObject;
  x5c: string[];
}

interface Context {
  settings: Settings;
  signer: Signer;
  log: TokenRequest[];
  /** refresh token → user */
  refreshTokens: Map<string, string>;
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse, ctx: Context): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://issuer');
  if (url.pathname !== '/token') return sendJson(res, 404, { errors: [{ code: 'NOT_FOUND', message: 'no such endpoint' }] });
  if (req.method === 'GET') return handleGet(req, res, url, ctx);
  if (req.method === 'POST') return handlePost(req, res, ctx);
  return sendJson(res, 405, { errors: [{ code: 'UNSUPPORTED', message: 'use GET or POST' }] });
}

/** The classic form: GET /token?service=…&scope=…&account=… with optional Basic auth. */
function handleGet(req: http.IncomingMessage, res: http.ServerResponse, url: URL, ctx: Context): void {
  const basic = parseBasic(req.headers.authorization);
  const record: TokenRequest = {
    method: 'GET',
    service: url.searchParams.get('service') ?? undefined,
    scopes: url.searchParams.getAll('scope'),
    account: url.searchParams.get('account') ?? undefined,
    user: basic?.user,
    credentials: basic !== undefined,
    status: 0,
    granted: [],
  };
  ctx.log.push(record);
  const policy = authenticate(basic, ctx.settings);
  if (!policy) {
    record.status = 401;
    res.setHeader('www-authenticate', 'Basic realm="ocipush-test-issuer"');
    return sendJson(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication failed' }] });
  }
  issue(res, record, policy, basic?.user ?? '', ctx, false);
}

/** The OAuth2 form: POST /token with grant_type=password or grant_type=refresh_token. */
async function handlePost(req: http.IncomingMessage, res: http.ServerResponse, ctx: Context): Promise<void> {
  const form = new URLSearchParams(await readSmallBody(req));
  const grantType = form.get('grant_type') ?? '';
  const record: TokenRequest = {
    method: 'POST',
    grantType,
    service: form.get('service') ?? undefined,
    scopes: (form.get('scope') ?? '').split(' ').filter(Boolean),
    user: form.get('username') ?? undefined,
    credentials: grantType === 'password' || grantType === 'refresh_token',
    status: 0,
    granted: [],
  };
  ctx.log.push(record);
  let policy: AccessPolicy | undefined;
  let subject = '';
  if (grantType === 'password') {
    policy = authenticate({ user: form.get('username') ?? '', password: form.get('password') ?? '' }, ctx.settings);
    subject = form.get('username') ?? '';
  } else if (grantType === 'refresh_token') {
    const user = ctx.refreshTokens.get(form.get('refresh_token') ?? '');
    record.user = user;
    const known = user === undefined ? undefined : ctx.settings.users[user];
    if (known) {
      policy = known.access ?? grantAll;
      subject = user!;
    }
  } else {
    record.status = 400;
    return sendJson(res, 400, { errors: [{ code: 'UNSUPPORTED', message: `unsupported grant_type "${grantType}"` }] });
  }
  if (!policy && ctx.settings.oauth2Errors) {
    record.status = 400;
    return sendJson(res, 400, { error: 'invalid_grant', error_description: grantType === 'refresh_token' ? 'the refresh token is invalid or expired' : 'invalid username or password' });
  }
  if (!policy) {
    record.status = 401;
    return sendJson(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication failed' }] });
  }
  issue(res, record, policy, subject, ctx, true);
}

function authenticate(basic: { user: string; password: string } | undefined, settings: Settings): AccessPolicy | undefined {
  if (!basic) return settings.anonymous;
  const user = settings.users[basic.user];
  if (!user || user.password !== basic.password) return undefined;
  return user.access ?? grantAll;
}

const grantAll: AccessPolicy = () => ['*'];

function issue(res: http.ServerResponse, record: TokenRequest, policy: AccessPolicy, subject: string, ctx: Context, oauth: boolean): void {
  const granted = grant(record.scopes, policy);
  const now = Math.floor(Date.now() / 1000);
  const { expiresIn } = ctx.settings;
  const lifetime = typeof expiresIn === 'function' ? expiresIn(ctx.log.indexOf(record)) : expiresIn;
  const claims = {
    iss: ctx.settings.issuer,
    sub: subject,
    // The registry only accepts its own service name; echoing what was asked lets a test see a
    // client that sent the wrong one fail the way it would against a real issuer.
    aud: record.service ?? ctx.settings.service,
    exp: now + lifetime,
    nbf: now - 1,
    iat: now,
    jti: randomUUID(),
    access: granted,
  };
  const token = signJwt(claims, ctx.signer);
  record.status = 200;
  record.granted = granted;
  const body: Record<string, unknown> = {
    token,
    access_token: token,
    expires_in: lifetime,
    issued_at: new Date(now * 1000).toISOString(),
  };
  if (oauth && subject) {
    const refresh = randomUUID();
    ctx.refreshTokens.set(refresh, subject);
    body.refresh_token = refresh;
    body.scope = record.scopes.join(' ');
  }
  sendJson(res, 200, body);
}

/** Grants each requested action the policy allows; "*" in the policy allows any action. */
function grant(scopes: string[], policy: AccessPolicy): ResourceActions[] {
  const out: ResourceActions[] = [];
  for (const scope of scopes.flatMap((s) => s.split(' ')).filter(Boolean)) {
    const parsed = parseScope(scope);
    if (!parsed) continue;
    const allowed = policy(parsed.name, parsed.type);
    const actions = allowed.includes('*') ? parsed.actions : parsed.actions.filter((a) => allowed.includes(a));
    const existing = out.find((r) => r.type === parsed.type && r.name === parsed.name);
    if (existing) existing.actions = [...new Set([...existing.actions, ...actions])];
    else out.push({ type: parsed.type, name: parsed.name, actions });
  }
  return out;
}

/** `repository:library/app:pull,push` → type, name, actions. The name may not hold ':' but a type may carry a class: `repository(plugin)`. */
export function parseScope(scope: string): ResourceActions | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first === -1 || last === first) return undefined;
  const type = scope.slice(0, first).replace(/\(.*\)$/, '');
  return { type, name: scope.slice(first + 1, last), actions: scope.slice(last + 1).split(',').filter(Boolean) };
}

function signJwt(claims: object, signer: Signer): string {
  const header = { typ: 'JWT', alg: 'ES256', x5c: signer.x5c };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  // JWS wants the raw r||s form of an ECDSA signature, not DER.
  const signature = sign('sha256', Buffer.from(input), { key: signer.key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${b64url(signature)}`;
}

function b64url(data: string | Buffer): string {
  return Buffer.from(data).toString('base64url');
}

function parseBasic(header: string | undefined): { user: string; password: string } | undefined {
  if (!header?.toLowerCase().startsWith('basic ')) return undefined;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon === -1) return { user: decoded, password: '' };
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

async function readSmallBody(req: http.IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of req.setEncoding('utf8')) {
    body += chunk;
    if (body.length > 64 * 1024) throw new Error('token request body too large');
  }
  return body;
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
