import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { assertOneLineError, runCliAsync } from '../cli/registry-support.js';
import { proxiedRegistry } from './proxied-registry.js';

const LOGIN_PAGE = '<!DOCTYPE html>\n<html><head><title>Sign in - Corporate Proxy</title></head><body><form>…</form></body></html>\n';

/** A proxy or captive portal that answers the registry's manifest GET 200 with a page of its own. */
describe('a manifest GET answered 200 with an HTML page', () => {
  const fixture = proxiedRegistry([2048], 'portal/app:v1');

  it('pull and manifest fail in one line naming the page; nothing is written', async () => {
    const { proxy, tmp } = fixture;
    proxy.addFault({ method: 'GET', path: /\/manifests\/v1$/, times: 100, fault: { kind: 'respond', status: 200, headers: { 'content-type': 'text/html; charset=utf-8' }, body: LOGIN_PAGE } });
    const line = new RegExp(`^ocipush: ${proxy.host}: fetch manifest portal/app:v1: the registry answered 200 with an HTML page "Sign in - Corporate Proxy", not a manifest \\(a proxy or login page in front of it\\?\\)$`);
    const layout = join(tmp.path, 'pulled');
    assertOneLineError(await runCliAsync(['pull', '-q', `${proxy.host}/portal/app:v1`, '--layout', layout]), line);
    assert.equal(existsSync(layout), false);
    assertOneLineError(await runCliAsync(['manifest', `${proxy.host}/portal/app:v1`]), line);
  });
});
