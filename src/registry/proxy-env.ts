import { BlockList, isIP } from 'node:net';
import { OcipushError } from '../errors.js';
import { isLoopbackRegistry } from '../oci/reference.js';

/**
 * The proxy environment read the way Go's http.ProxyFromEnvironment reads it (crane, skopeo and
 * docker do), so a pipeline set up for them needs nothing more for ocipush:
 * - HTTPS_PROXY for https URLs, HTTP_PROXY for http ones, no fall-back from one to the other;
 * - the upper-case name wins over the lower-case one, an empty value counts as unset;
 * - a value without a scheme (`proxy:3128`) is an http:// proxy;
 * - NO_PROXY: `*`, hosts (`example.com` also covers its subdomains, `.example.com` only them),
 *   `host:port`, IP addresses and CIDR ranges;
 * - localhost and loopback addresses are never proxied.
 *
 * Why not undici's EnvHttpProxyAgent (read in undici 7.30): it reads the same variables with
 * other rules, and its options cannot restore Go's. (1) It takes the lower-case name first
 * (`http_proxy ?? HTTP_PROXY`), and an empty value set beats the other name. (2) Without
 * HTTPS_PROXY it sends https requests to HTTP_PROXY; Go connects directly, and passing
 * `httpsProxy: ''` falls back the same way. (3) Its NO_PROXY has no CIDR ranges and matches IP
 * addresses as strings (`::1` vs `[::1]`, `10.0.0.0/8`), and `.example.com` also matches
 * example.com itself. (4) It proxies localhost and loopback unless NO_PROXY names them, so a
 * pipeline with HTTP_PROXY set would send the local test registry through the proxy. (5) A value
 * without a scheme (`proxy:3128`, common in CI) is refused ("Invalid URL protocol"). (6) A bad
 * value throws when the agent is made, failing every request, even those NO_PROXY exempts, and
 * Node's URL error keeps the value, password included, in its `input`; here a bad value names
 * its variable and a proxy its host:port only, and fails only the requests that would use it. What undici does well is kept:
 * proxy-dispatcher.ts sends each request through undici's own ProxyAgent (CONNECT, TLS inside the
 * tunnel) once this file has chosen the proxy.
 */

export interface Proxy {
  /** The proxy's origin (`http://host:port`), without credentials. */
  origin: string;
  /** `host:port`: the only way a proxy is named in messages. */
  display: string;
  /** The variable it came from, for messages. */
  variable: string;
  /** `Basic …` from the URL's user information, if any (never printed). */
  authorization?: string;
}

/** A variable whose value is not a usable proxy: an error for requests that would use it. */
export interface BadProxy {
  error: OcipushError;
}

export interface ProxyEnvironment {
  http?: Proxy | BadProxy;
  https?: Proxy | BadProxy;
  noProxy: NoProxy;
}

type Env = Record<string, string | undefined>;

/** The proxy settings, or undefined when no proxy variable is set (the common case: nothing else to load). */
export function proxyEnvironment(env: Env = process.env): ProxyEnvironment | undefined {
  const http = pick(env, 'HTTP_PROXY', 'http_proxy');
  const https = pick(env, 'HTTPS_PROXY', 'https_proxy');
  if (!http && !https) return undefined;
  const noProxy = pick(env, 'NO_PROXY', 'no_proxy');
  return {
    http: http && parseProxy(http.value, http.variable),
    https: https && parseProxy(https.value, https.variable),
    noProxy: parseNoProxy(noProxy?.value ?? ''),
  };
}

/** The proxy for a request to `url`, or undefined to connect directly. */
export function proxyFor(environment: ProxyEnvironment, url: URL): Proxy | BadProxy | undefined {
  const proxy = url.protocol === 'https:' ? environment.https : url.protocol === 'http:' ? environment.http : undefined;
  if (!proxy) return undefined;
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  // Go's special case (localhost and loopback IP literals), widened to *.localhost, which resolves
  // to this machine (RFC 6761): a proxy could not reach it. Going direct sends nothing anywhere
  // else; whether such a name gets plain HTTP or credentials is isLoopbackRegistry's (it does not).
  if (isLoopbackRegistry(url.hostname) || host.endsWith('.localhost')) return undefined;
  return environment.noProxy.matches(host, port) ? undefined : proxy;
}

function pick(env: Env, upper: string, lower: string): { value: string; variable: string } | undefined {
  if (env[upper]) return { value: env[upper]!, variable: upper };
  if (env[lower]) return { value: env[lower]!, variable: lower };
  return undefined;
}

function parseProxy(value: string, variable: string): Proxy | BadProxy {
  let url: URL | undefined;
  try { url = new URL(value); } catch { /* maybe host:port */ }
  // `proxy:3128` parses as scheme "proxy:" with no host; Go then tries it as http://proxy:3128.
  // A value that names its scheme is never read again behind another: `http://http://u:p@h:99999`
  // parses, as a proxy named "http".
  if ((!url || !url.host) && !/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    try { url = new URL(`http://${value}`); } catch { url = undefined; }
  }
  if (!url || !url.hostname) {
    // The value may hold a password: name the variable only.
    return { error: new OcipushError('EUSAGE', `${variable} is not a proxy URL (expected http://host:port)`) };
  }
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  const display = `${url.hostname}:${port}`;
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { error: new OcipushError('EUNSUPPORTED', `${variable}: ${url.protocol.replace(/:$/, '')} proxies are not supported (${display}); use an http:// or https:// proxy`) };
  }
  const proxy: Proxy = { origin: `${url.protocol}//${url.host}`, display, variable };
  // Go sends Basic credentials whenever the URL has user information, even with an empty password.
  if (url.username || url.password) {
    const user = percentDecoded(url.username);
    const password = percentDecoded(url.password);
    if (user === undefined || password === undefined) {
      // Go refuses such a URL too ("invalid URL escape"); the user and password are not shown.
      return { error: new OcipushError('EUSAGE', `${variable}: the user or password of proxy ${display} holds a % that is not followed by two hex digits (write % as %25)`) };
    }
    proxy.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  }
  return proxy;
}

/** `p%40ss` → `p@ss`; undefined for a `%` that starts no escape (`50%off`), which decodeURIComponent throws on. */
function percentDecoded(text: string): string | undefined {
  try { return decodeURIComponent(text); } catch { return undefined; }
}

export interface NoProxy {
  matches(host: string, port: string): boolean;
}

interface DomainEntry { suffix: string; alsoExact: boolean; port?: string }
interface IpEntry { list: BlockList; port?: string }

/** NO_PROXY as Go parses it: comma-separated, case-insensitive; malformed entries are ignored. */
export function parseNoProxy(value: string): NoProxy {
  const domains: DomainEntry[] = [];
  const ips: IpEntry[] = [];
  let all = false;
  for (const raw of value.split(',')) {
    const entry = raw.trim().toLowerCase();
    if (!entry) continue;
    if (entry === '*') { all = true; break; }
    const cidr = /^(.+)\/(\d{1,3})$/.exec(entry);
    if (cidr) {
      const family = isIP(cidr[1]!);
      const prefix = Number(cidr[2]);
      if (family && prefix <= (family === 4 ? 32 : 128)) {
        const list = new BlockList();
        list.addSubnet(cidr[1]!, prefix, family === 4 ? 'ipv4' : 'ipv6');
        ips.push({ list });
      }
      continue;
    }
    let host = entry;
    let port: string | undefined;
    const withPort = /^\[(.*)\]:(\d+)$/.exec(entry) ?? (/^([^:]*):(\d+)$/.exec(entry));
    if (withPort) { host = withPort[1]!; port = withPort[2]; }
    host = host.replace(/^\[|\]$/g, '');
    if (!host) continue;
    const family = isIP(host);
    if (family) {
      const list = new BlockList();
      list.addAddress(host, family === 4 ? 'ipv4' : 'ipv6');
      ips.push({ list, port });
      continue;
    }
    if (host.startsWith('*.')) host = host.slice(1);
    const alsoExact = !host.startsWith('.');
    domains.push({ suffix: alsoExact ? `.${host}` : host, alsoExact, port });
  }
  return {
    matches(host: string, port: string): boolean {
      if (all) return true;
      const family = isIP(host);
      if (family) {
        const type = family === 4 ? 'ipv4' : 'ipv6';
        return ips.some((e) => e.list.check(host, type) && (e.port === undefined || e.port === port));
      }
      return domains.some((e) => (host.endsWith(e.suffix) || (e.alsoExact && host === e.suffix.slice(1))) && (e.port === undefined || e.port === port));
    },
  };
}
