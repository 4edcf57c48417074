import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A reverse proxy in front of docker-registry 2.8 that adds what an OCI 1.1 registry has and 2.8
 * lacks, answering as the distribution spec says such a registry answers:
 *  - `referrersApi`: a manifest PUT whose body has `subject` is answered with `OCI-Subject`, and
 *    `GET /v2/<name>/referrers/<digest>` returns an image index of those manifests (with
 *    `artifactType` filtering and `OCI-Filters-Applied`). Without it the proxy passes the 404 through.
 *  - `conditionalPuts`: a manifest PUT carrying `If-Match` / `If-None-Match` is checked against the
 *    tag's current digest (the registry's ETag) and refused with 412 when it does not hold; the
 *    check and the PUT run under one lock per tag, as a registry's own transaction would.
 *  - `barrier`: requests it matches are held until `count` of them have arrived, then all go on
 *    (to make two clients read the same state, deterministically).
 * Bodies are small in these tests (manifests, a few KiB of files) and are buffered.
 */
export interface Oci11ProxyOptions {
  target: string;
  referrersApi?: boolean;
  /**
   * With `referrersApi`: at most this many referrers a page, in the order they were pushed, with a
   * `Link: <…?page=N>; rel="next"` header while more remain, as the distribution spec lets a
   * registry page them. `linkBack`: every next link names the first page again (`?page=0`), as a
   * registry whose paging is broken loops.
   */
  referrersPages?: { size: number; linkBack?: boolean };
  conditionalPuts?: boolean;
  barrier?: { match: (method: string, path: string) => boolean; count: number };
}

export interface Oci11Proxy {
  host: string;
  /** Requests seen: `METHOD path status`. */
  log(): string[];
  stop(): Promise<void>;
}

interface Referrer {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export async function startOci11Proxy(options: Oci11ProxyOptions): Promise<Oci11Proxy> {
  const target = new URL(options.target);
  const referrers = new Map<string, Referrer[]>();
  const locks = new Map<string, Promise<void>>();
  const log: string[] = [];
  let held: (() => void)[] = [];
  let barrierPassed = 0;

  const forward = (req: http.IncomingMessage, body: Buffer, method = req.method!): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const headers = { ...req.headers, host: target.host };
      if (method === 'HEAD') {
        // The precondition check: docker-registry answers 404 for an index the client does not accept.
        delete headers['content-length'];
        delete headers['content-type'];
        headers.accept = 'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json';
      }
      const up = http.request({ host: target.hostname, port: target.port, method, path: req.url, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      up.on('error', reject);
      up.end(method === 'HEAD' ? undefined : body);
    });

  const withLock = async <T>(key: string, fn: () => Promise<T>): Promise<T> => {
    const previous = locks.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => { release = r; });
    locks.set(key, previous.then(() => mine));
    await previous;
    try { return await fn(); } finally { release(); }
  };

  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const path = (req.url ?? '/').split('?')[0]!;
    const method = req.method!;
    const send = (status: number, headers: http.OutgoingHttpHeaders, data: Buffer | string = ''): void => {
      log.push(`${method} ${req.url} ${status}`);
      res.writeHead(status, headers);
      res.end(method === 'HEAD' ? undefined : data);
    };
    try {
      if (options.barrier && barrierPassed < options.barrier.count && options.barrier.match(method, path)) {
        await new Promise<void>((resolve) => {
          held.push(resolve);
          if (held.length >= options.barrier!.count) { barrierPassed = held.length; held.forEach((r) => r()); held = []; }
        });
      }
      const referrersMatch = /^\/v2\/(.+)\/referrers\/(sha256:[0-9a-f]{64})$/.exec(path);
      if (referrersMatch && options.referrersApi && method === 'GET') {
        const wanted = new URL(req.url!, 'http://x').searchParams.get('artifactType');
        const all = referrers.get(`${referrersMatch[1]}@${referrersMatch[2]}`) ?? [];
        const matching = wanted ? all.filter((r) => r.artifactType === wanted) : all;
        const pages = options.referrersPages;
        const page = Number(new URL(req.url!, 'http://x').searchParams.get('page') ?? '0');
        const manifests = pages ? matching.slice(page * pages.size, (page + 1) * pages.size) : matching;
        const more = pages !== undefined && (page + 1) * pages.size < matching.length;
        const link = more ? { link: `<${path}?page=${pages.linkBack ? 0 : page + 1}${wanted ? `&artifactType=${encodeURIComponent(wanted)}` : ''}>; rel="next"` } : {};
        const index = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests });
        send(200, { 'content-type': 'application/vnd.oci.image.index.v1+json', ...(wanted ? { 'oci-filters-applied': 'artifactType' } : {}), ...link }, index);
        return;
      }
      const manifestMatch = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(path);
      if (manifestMatch && method === 'PUT') {
        const [, name, reference] = manifestMatch as unknown as [string, string, string];
        const conditional = options.conditionalPuts && (req.headers['if-match'] || req.headers['if-none-match']);
        const put = async (): Promise<void> => {
          if (conditional) {
            const current = await forward(req, Buffer.alloc(0), 'HEAD');
            const etag = current.status === 200 ? `"${String(current.headers['docker-content-digest'])}"` : undefined;
            const ifMatch = req.headers['if-match'];
            const ifNoneMatch = req.headers['if-none-match'];
            if ((ifNoneMatch === '*' && etag) || (ifMatch !== undefined && ifMatch !== etag && !(ifMatch === '*' && etag))) {
              send(412, { 'content-type': 'application/json' }, JSON.stringify({ errors: [{ code: 'PRECONDITION_FAILED', message: 'the manifest changed' }] }));
              return;
            }
          }
          const up = await forward(req, body);
          const headers: http.OutgoingHttpHeaders = { ...up.headers };
          if (options.referrersApi && up.status === 201) {
            const doc = JSON.parse(body.toString('utf8')) as { subject?: { digest?: string }; artifactType?: string; config?: { mediaType?: string }; annotations?: Record<string, string> };
            const subject = doc.subject?.digest;
            if (subject) {
              const key = `${name}@${subject}`;
              const digest = String(up.headers['docker-content-digest']);
              const list = (referrers.get(key) ?? []).filter((r) => r.digest !== digest);
              const artifactType = doc.artifactType ?? doc.config?.mediaType;
              list.push({ mediaType: String(req.headers['content-type']), digest, size: body.length, ...(artifactType ? { artifactType } : {}), ...(doc.annotations ? { annotations: doc.annotations } : {}) });
              referrers.set(key, list);
              headers['oci-subject'] = subject;
            }
          }
          send(up.status, headers, up.body);
        };
        await (conditional ? withLock(`${name}:${reference}`, put) : put());
        return;
      }
      const up = await forward(req, body);
      send(up.status, up.headers, up.body);
    } catch (err) {
      send(502, {}, String(err));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    log: () => [...log],
    stop: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
