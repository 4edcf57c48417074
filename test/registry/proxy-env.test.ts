import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OcipushError } from '../../src/errors.js';
import { parseNoProxy, proxyEnvironment, proxyFor, type Proxy } from '../../src/registry/proxy-env.js';

const route = (env: Record<string, string>, url: string) => {
  const environment = proxyEnvironment(env);
  return environment && proxyFor(environment, new URL(url));
};
const display = (env: Record<string, string>, url: string) => {
  const p = route(env, url);
  return p && ('error' in p ? p.error.message : `${p.variable} ${p.display}`);
};

describe('the proxy environment, read as Go reads it', () => {
  it('is nothing at all when no proxy variable is set (NO_PROXY alone included)', () => {
    assert.equal(proxyEnvironment({}), undefined);
    assert.equal(proxyEnvironment({ NO_PROXY: '*', HTTP_PROXY: '' }), undefined);
  });

  it('takes HTTPS_PROXY for https and HTTP_PROXY for http, with no fall-back between them', () => {
    const env = { HTTPS_PROXY: 'http://tls-proxy:3128', HTTP_PROXY: 'http://plain-proxy:8080' };
    assert.equal(display(env, 'https://registry.example.com/v2/'), 'HTTPS_PROXY tls-proxy:3128');
    assert.equal(display(env, 'http://registry.example.com/v2/'), 'HTTP_PROXY plain-proxy:8080');
    assert.equal(route({ HTTP_PROXY: 'http://p:1' }, 'https://registry.example.com/'), undefined);
    assert.equal(route({ HTTPS_PROXY: 'http://p:1' }, 'http://registry.example.com/'), undefined);
  });

  it('prefers the upper-case name, and an empty value counts as unset', () => {
    assert.equal(display({ HTTPS_PROXY: 'http://upper:1', https_proxy: 'http://lower:2' }, 'https://r.example/'), 'HTTPS_PROXY upper:1');
    assert.equal(display({ HTTPS_PROXY: '', https_proxy: 'http://lower:2' }, 'https://r.example/'), 'https_proxy lower:2');
    assert.equal(display({ HTTP_PROXY: 'http://p:1', NO_PROXY: '', no_proxy: 'r.example' }, 'http://r.example/'), undefined);
  });

  it('reads host:port as an http:// proxy, defaults the port, keeps credentials out of its name', () => {
    assert.equal(display({ HTTPS_PROXY: 'proxy.corp:3128' }, 'https://r.example/'), 'HTTPS_PROXY proxy.corp:3128');
    assert.equal(display({ HTTPS_PROXY: 'http://proxy.corp' }, 'https://r.example/'), 'HTTPS_PROXY proxy.corp:80');
    const p = route({ HTTPS_PROXY: 'http://us%40er:p%3Ass@proxy.corp:3128' }, 'https://r.example/') as Proxy;
    assert.equal(p.origin, 'http://proxy.corp:3128');
    assert.equal(p.authorization, `Basic ${Buffer.from('us@er:p:ss').toString('base64')}`);
    assert.equal((route({ HTTPS_PROXY: 'http://user@proxy.corp:3128' }, 'https://r.example/') as Proxy).authorization, `Basic ${Buffer.from('user:').toString('base64')}`);
  });

  it('refuses other proxy schemes, only for requests that would use them, without printing the URL', () => {
    const p = route({ HTTPS_PROXY: 'socks5://bob:hunter2@socks.corp:1080', NO_PROXY: 'skip.example' }, 'https://r.example/');
    assert.ok(p && 'error' in p && p.error instanceof OcipushError);
    assert.equal(p.error.message, 'HTTPS_PROXY: socks5 proxies are not supported (socks.corp:1080); use an http:// or https:// proxy');
    assert.equal(route({ HTTPS_PROXY: 'socks5://socks.corp:1080', NO_PROXY: 'skip.example' }, 'https://skip.example/'), undefined);
  });

  it('names the variable of a URL it cannot read, never reading it again as another URL, and quotes none of it', () => {
    assert.equal(display({ HTTPS_PROXY: 'http://bob:50%off@proxy.corp:3128' }, 'https://r.example/'), 'HTTPS_PROXY: the user or password of proxy proxy.corp:3128 holds a % that is not followed by two hex digits (write % as %25)');
    // Read again as http://http://…, these were a proxy named "http" on port 80.
    assert.equal(display({ HTTPS_PROXY: 'http://bob:hunter2@proxy.corp:99999' }, 'https://r.example/'), 'HTTPS_PROXY is not a proxy URL (expected http://host:port)');
    assert.equal(display({ HTTP_PROXY: 'http://[::1' }, 'http://r.example/'), 'HTTP_PROXY is not a proxy URL (expected http://host:port)');
    assert.equal(route({ HTTPS_PROXY: 'http://bob:50%off@proxy.corp:3128', NO_PROXY: 'r.example' }, 'https://r.example/'), undefined);
  });

  it('never proxies localhost or loopback addresses', () => {
    const env = { HTTPS_PROXY: 'http://p:1', HTTP_PROXY: 'http://p:1' };
    for (const url of ['http://localhost:5000/', 'https://LOCALHOST/', 'http://127.0.0.1:5000/', 'https://127.3.2.1/', 'http://[::1]:5000/', 'http://registry.localhost:5000/']) {
      assert.equal(route(env, url), undefined, url);
    }
    assert.ok(route(env, 'http://10.0.0.1:5000/'));
  });
});

describe('NO_PROXY', () => {
  const matches = (value: string, host: string, port = '443') => parseNoProxy(value).matches(host, port);

  it('matches a domain and its subdomains; a leading dot or *. only the subdomains', () => {
    assert.ok(matches('example.com', 'example.com'));
    assert.ok(matches('example.com', 'registry.example.com'));
    assert.ok(!matches('example.com', 'notexample.com'));
    assert.ok(!matches('.example.com', 'example.com'));
    assert.ok(matches('.example.com', 'a.b.example.com'));
    assert.ok(matches('*.example.com', 'a.example.com'));
    assert.ok(!matches('*.example.com', 'example.com'));
    assert.ok(matches(' Example.COM ', 'example.com'), 'trimmed and case-insensitive');
  });

  it('takes a port when given, and * for everything', () => {
    assert.ok(matches('example.com:5000', 'example.com', '5000'));
    assert.ok(!matches('example.com:5000', 'example.com', '443'));
    assert.ok(matches('*', 'anything.example', '1'));
    assert.ok(matches('a.example, *', '10.0.0.1'));
    assert.ok(!matches('', 'example.com'));
  });

  it('matches IP addresses, with or without a port, and CIDR ranges; domains never match an IP', () => {
    assert.ok(matches('10.1.2.3', '10.1.2.3'));
    assert.ok(matches('10.1.2.3:5000', '10.1.2.3', '5000'));
    assert.ok(!matches('10.1.2.3:5000', '10.1.2.3', '443'));
    assert.ok(matches('10.0.0.0/8', '10.200.3.4'));
    assert.ok(!matches('10.0.0.0/8', '11.0.0.1'));
    assert.ok(matches('fd00::/8', 'fd12::1'));
    assert.ok(matches('[fd00::1]:5000', 'fd00::1', '5000'));
    assert.ok(matches('fd00:0:0::1', 'fd00::1'), 'IPv6 compared as addresses, not text');
    assert.ok(!matches('3.4', '1.2.3.4'), 'a partial address is a domain, and domains never match an IP');
    assert.ok(!matches('10.0.0.0/99, :80, ', '10.0.0.1', '80'), 'malformed entries are ignored');
  });
});
