import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A reverse proxy in front of a real registry that pages `GET /v2/<name>/tags/list` and
 * `GET /v2/_catalog` as the distribution spec describes and GHCR, ECR and Harbor do (distribution
 * 2.8 itself ignores `n` and `last` and answers everything at once): entries in lexical order,
 * at most `n` (and never more than `maxPage`) after `last`, and a `Link: <…>; rel="next"` header
 * while more remain. Everything else passes through untouched, Authorization included.
 */
export interface PagingProxy {
  host: string;
  url: string;
  /** The list requests it answered, as the client sent them (path and query). */
  listRequests(): string[];
  stop(): Promise<void>;
}

export async function startPagingProxy(options: {
  target: string; maxPage: number; absoluteLinks?: boolean;
  /**
   * Build each next link by appending `?n=…&last=…` to the URL asked for, query and all, as
   * cloudflare/serverless-registry did (its issue #75): from the third page on the links grow
   * while `last` (the first one) stays, so the same page comes back under ever new URLs.
   */
  appendToAskedUrl?: boolean;
}): Promise<PagingProxy> {
  const target = new URL(options.target);
  const agent = new http.Agent({ keepAlive: true });
  const seen: string[] = [];
  let origin = '';

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const list = req.method === 'GET' ? /^\/v2\/(?:(.+)\/tags\/list|_catalog)$/.exec(url.pathname) : null;
    const headers = { ...req.headers, host: target.host };
    if (!list) {
      const upstream = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
      return;
    }
    seen.push(`${url.pathname}${url.search}`);
    // The whole list from the registry, then the page the client asked for.
    const upstream = http.request({ host: target.hostname, port: target.port, method: 'GET', path: url.pathname, headers, agent }, (up) => {
      const chunks: Buffer[] = [];
      up.on('data', (c: Buffer) => chunks.push(c));
      up.on('end', () => {
        const body = Buffer.concat(chunks);
        if (up.statusCode !== 200) {
          res.writeHead(up.statusCode ?? 502, up.headers);
          res.end(body);
          return;
        }
        const field = list[1] === undefined ? 'repositories' : 'tags';
        const parsed = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
        const all = ((parsed[field] as string[] | null) ?? []).slice().sort();
        const last = url.searchParams.get('last');
        const n = Number(url.searchParams.get('n') ?? options.maxPage);
        const size = Math.max(1, Math.min(n, options.maxPage));
        const rest = last === null ? all : all.filter((t) => t > last);
        const page = rest.slice(0, size);
        const out: http.OutgoingHttpHeaders = { 'content-type': 'application/json' };
        if (rest.length > page.length) {
          const next = `${options.appendToAskedUrl ? `${url.pathname}${url.search}` : url.pathname}?n=${size}&last=${encodeURIComponent(page.at(-1)!)}`;
          out.link = `<${options.absoluteLinks ? origin : ''}${next}>; rel="next"`;
        }
        res.writeHead(200, out);
        res.end(JSON.stringify({ ...parsed, [field]: page }));
      });
    });
    upstream.on('error', () => res.destroy());
    upstream.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  origin = `http://127.0.0.1:${port}`;
  return {
    host: `127.0.0.1:${port}`,
    url: origin,
    listRequests: () => [...seen],
    stop: () => new Promise<void>((resolve) => {
      agent.destroy();
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
