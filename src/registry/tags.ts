import { OcipushError } from '../errors.js';
import type { RegistryClient } from './http.js';
import { getWhole } from './whole-body.js';
import { pullScope, v2Path } from './scopes.js';

export interface ListOptions {
  /** Entries asked for per page (`n`); the registry may send fewer, or (distribution 2.8) ignore it. */
  pageSize?: number;
  signal?: AbortSignal;
}

/** A registry that keeps answering with another page is broken; stop well before it runs away. */
const MAX_PAGES = 10_000;
const MAX_PAGE_BYTES = 16 * 1024 * 1024;

/**
 * `GET /v2/<name>/tags/list`, every page: the distribution spec's pagination follows the `Link:
 * <…>; rel="next"` header (its URL carries `n` and `last`) until a page comes without one.
 * Yields one page of tags at a time, so a repository with many tags is never held whole.
 */
export async function* listTagPages(client: RegistryClient, repository: string, options: ListOptions = {}): AsyncGenerator<string[]> {
  const first = `${v2Path(repository, 'tags/list')}${options.pageSize ? `?n=${options.pageSize}` : ''}`;
  yield* pages(client, first, `list tags of ${repository}`, [pullScope(repository)], 'tags', options, () =>
    new OcipushError('ENOTFOUND', `${client.registry}/${repository}: repository not found`));
}

/** `GET /v2/_catalog`, every page, as listTagPages. */
export async function* listCatalogPages(client: RegistryClient, options: ListOptions = {}): AsyncGenerator<string[]> {
  const first = `/v2/_catalog${options.pageSize ? `?n=${options.pageSize}` : ''}`;
  yield* pages(client, first, 'list repositories', ['registry:catalog:*'], 'repositories', options, () =>
    new OcipushError('EUNSUPPORTED', `${client.registry}: the registry does not offer a catalog (GET /v2/_catalog: 404)`));
}

export async function listTags(client: RegistryClient, repository: string, options: ListOptions = {}): Promise<string[]> {
  const all: string[] = [];
  for await (const page of listTagPages(client, repository, options)) all.push(...page);
  return all;
}

export async function listCatalog(client: RegistryClient, options: ListOptions = {}): Promise<string[]> {
  const all: string[] = [];
  for await (const page of listCatalogPages(client, options)) all.push(...page);
  return all;
}

async function* pages(
  client: RegistryClient, firstUrl: string, op: string, scopes: string[], field: 'tags' | 'repositories',
  options: ListOptions, notFound: () => OcipushError,
): AsyncGenerator<string[]> {
  let url: URL | string = firstUrl;
  const seen = new Set<string>();
  /** The entries of the page before: a next link that brings them again under a new URL (a link grown from the asked URL) is a loop too. */
  let previous: string | undefined;
  for (let page = 1; ; page++) {
    options.signal?.throwIfAborted();
    const key = String(url);
    if (seen.has(key)) throw new OcipushError('EREGISTRY', `${client.registry}: ${op}: the registry sent the same page twice (${key})`);
    seen.add(key);
    if (page > MAX_PAGES) throw new OcipushError('EREGISTRY', `${client.registry}: ${op}: more than ${MAX_PAGES} pages`);
    const { res, bytes } = await getWhole(client, { url, op, scopes, accept: (s) => s === 200 || s === 404, ...(options.signal ? { signal: options.signal } : {}) }, MAX_PAGE_BYTES, (r) => r.status === 200);
    if (res.status === 404) throw notFound();
    const text = bytes.toString('utf8');
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new OcipushError('EREGISTRY', `${client.registry}: ${op}: the answer is not JSON`);
    }
    const list = body?.[field];
    // distribution answers `"tags": null` for a repository whose tags were all deleted.
    if (list !== null && list !== undefined && !(Array.isArray(list) && list.every((t) => typeof t === 'string'))) {
      throw new OcipushError('EREGISTRY', `${client.registry}: ${op}: "${field}" is not a list of names`);
    }
    const entries = (list as string[] | null | undefined) ?? [];
    const same = JSON.stringify(entries);
    if (entries.length > 0 && same === previous) throw new OcipushError('EREGISTRY', `${client.registry}: ${op}: the registry sent the same page twice (${key})`);
    previous = same;
    yield entries;
    const next = nextLink(res.headerAll('link'));
    if (!next) return;
    url = client.resolve(next, res.url);
  }
}

/** The target of `Link: <url>; rel="next"` (RFC 8288), among any other links. */
export function nextLink(headers: string[]): string | undefined {
  for (const header of headers) {
    for (const part of header.split(/,(?=\s*<)/)) {
      const m = /^\s*<([^>]*)>\s*(.*)$/.exec(part);
      if (!m) continue;
      const params = m[2]!.split(';').map((p) => p.trim()).filter(Boolean);
      if (params.some((p) => /^rel\s*=\s*"?([^"]*)"?$/i.exec(p)?.[1]?.split(/\s+/).includes('next'))) return m[1];
    }
  }
  return undefined;
}
