import { createHash } from 'node:crypto';
import { request } from 'undici';
import type { Authenticator } from '../../../src/registry/auth/authenticator.js';

export interface Sent {
  status: number;
  location?: string;
  /** How many 401s were answered along the way. */
  challenges: number;
}

/**
 * One registry request the way the transport makes it: with `authorization()`, and on a 401
 * `handleChallenge()` then a retry, or `refusedError()` when it says no. Bounded so a bug shows
 * up as a failure, not a hang.
 */
export async function send(
  auth: Authenticator,
  url: string,
  scopes: string[],
  init: { method?: 'GET' | 'HEAD' | 'POST' | 'PUT'; body?: Buffer; headers?: Record<string, string> } = {},
): Promise<Sent> {
  let challenges = 0;
  for (;;) {
    const authorization = await auth.authorization(scopes);
    const headers: Record<string, string> = { ...init.headers };
    if (authorization) headers.authorization = authorization;
    const res = await request(url, { method: init.method ?? 'GET', headers, body: init.body });
    await res.body.dump();
    if (res.statusCode !== 401) {
      const location = res.headers.location;
      return { status: res.statusCode, location: typeof location === 'string' ? location : undefined, challenges };
    }
    challenges++;
    if (challenges > 3) throw new Error(`still 401 after ${challenges} challenges: the authenticator loops`);
    const www = res.headers['www-authenticate'] ?? '';
    if (!(await auth.handleChallenge(www, scopes, { authorization }))) throw auth.refusedError();
  }
}

export function blobOf(text: string): { data: Buffer; digest: string } {
  const data = Buffer.from(text);
  return { data, digest: `sha256:${createHash('sha256').update(data).digest('hex')}` };
}

/** A monolithic blob upload (POST, then PUT ?digest=) through the authenticator. */
export async function uploadBlob(auth: Authenticator, base: string, repo: string, blob: { data: Buffer; digest: string }, scopes: string[]): Promise<number> {
  const started = await send(auth, `${base}/v2/${repo}/blobs/uploads/`, scopes, { method: 'POST' });
  if (started.status !== 202 || !started.location) return started.status;
  const put = new URL(started.location, base);
  put.searchParams.set('digest', blob.digest);
  const done = await send(auth, put.href, scopes, {
    method: 'PUT',
    body: blob.data,
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(blob.data.length) },
  });
  return done.status;
}
