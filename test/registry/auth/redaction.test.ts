import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { format, inspect } from 'node:util';
import { Authenticator } from '../../../src/registry/auth/authenticator.js';
import { secretCredentials } from '../../../src/registry/auth/secret.js';
import { chainCredentials } from '../../../src/registry/credentials/chain.js';
import { defaultCredentials } from '../../../src/registry/credentials/default.js';
import { dockerConfigCredentials } from '../../../src/registry/credentials/docker-config.js';
import { envCredentials } from '../../../src/registry/credentials/env.js';
import { staticCredentials } from '../../../src/registry/credentials/static.js';
import { tempDir } from '../../support/tools.js';

const SECRETS = ['Pw-aa11-secret', 'Refresh-bb22-secret', 'Registry-cc33-secret', 'Docker-dd44-secret'];
const BASIC = Buffer.from(`user:${SECRETS[0]}`).toString('base64');

/** Every way an object ends up in a log or an error report. */
function renderings(value: unknown): string[] {
  const out = [
    JSON.stringify(value) ?? '',
    String(value),
    `${format('%s %o %O %j', value, value, value, value)}`,
    inspect(value, { showHidden: true, depth: null }),
    inspect(value, { showHidden: true, depth: null, customInspect: false }),
    inspect(value, { depth: null, getters: true }),
  ];
  if (value instanceof Error) out.push(value.stack ?? '', JSON.stringify((value as { details?: unknown }).details) ?? '');
  return out;
}

function assertClean(what: string, value: unknown): void {
  for (const text of renderings(value)) {
    for (const secret of [...SECRETS, BASIC]) assert.ok(!text.includes(secret), `${what} leaks a secret in: ${text}`);
  }
}

async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  assert.fail('expected a rejection');
}

describe('secrets never show', () => {
  it('in credentials, sources and authenticators, however they are printed', async () => {
    const dir = await tempDir();
    try {
      const configDir = join(dir.path, 'docker');
      await mkdir(configDir);
      await writeFile(join(configDir, 'config.json'), JSON.stringify({
        auths: { 'reg.example.com': { auth: Buffer.from(`user:${SECRETS[3]}`).toString('base64'), identitytoken: SECRETS[1] } },
      }));
      const creds = secretCredentials({ username: 'user', password: SECRETS[0], identityToken: SECRETS[1], registryToken: SECRETS[2] });
      assert.equal(creds.password, SECRETS[0], 'still readable by the code that needs it');
      assert.deepEqual(JSON.parse(JSON.stringify(creds)), { username: 'user', password: '<redacted>', identityToken: '<redacted>', registryToken: '<redacted>' });
      assert.deepEqual({ ...creds }, {}, 'a spread copy carries no secret');

      const fromStatic = staticCredentials('127.0.0.1:5000', { username: 'user', password: SECRETS[0] });
      const fromEnv = envCredentials('127.0.0.1:5000', { OCIPUSH_USERNAME: 'user', OCIPUSH_PASSWORD: SECRETS[0], OCIPUSH_REGISTRY_TOKEN: SECRETS[2] });
      const fromDocker = dockerConfigCredentials({ configDir, env: {} });
      const docker = await fromDocker.get('reg.example.com');
      assert.equal(docker?.password, SECRETS[3]);
      const chain = chainCredentials(fromStatic, fromEnv, fromDocker);
      const defaults = defaultCredentials({ registry: '127.0.0.1:5000', username: 'user', password: SECRETS[0], env: {}, dockerConfigDir: configDir });
      const auth = new Authenticator({ registry: '127.0.0.1:5000', plainHttp: true, credentials: fromStatic });
      assert.equal(await auth.handleChallenge('Basic realm="r"', []), true);
      assert.equal(await auth.authorization([]), `Basic ${BASIC}`);
      const tokenAuth = new Authenticator({ registry: '127.0.0.1:5000', plainHttp: true, credentials: fromEnv });
      assert.equal(await tokenAuth.handleChallenge('Bearer realm="http://127.0.0.1:9/token"', []), true);
      assert.equal(await tokenAuth.authorization([]), `Bearer ${SECRETS[2]}`);

      for (const [what, value] of Object.entries({
        creds, docker, fromStatic, fromEnv, fromDocker, chain, defaults, auth, tokenAuth,
        staticGot: await fromStatic.get('127.0.0.1:5000'),
        envGot: await fromEnv.get('127.0.0.1:5000'),
      })) {
        assertClean(what, value);
      }
    } finally {
      await dir.cleanup();
    }
  });

  it('in errors', async () => {
    const dir = await tempDir();
    try {
      await writeFile(join(dir.path, 'config.json'), `{"auths": {"x": {"auth": "${SECRETS[3]}"`);
      const errors = {
        brokenConfig: await caught(dockerConfigCredentials({ configDir: dir.path, env: {} }).get('x')),
        refusedBasic: await (async () => {
          const auth = new Authenticator({ registry: '127.0.0.1:5000', plainHttp: true, credentials: staticCredentials('127.0.0.1:5000', { username: 'user', password: SECRETS[0] }) });
          await auth.handleChallenge('Basic realm="r"', []);
          assert.equal(await auth.handleChallenge('Basic realm="r"', []), false);
          return auth.refusedError();
        })(),
        insecure: await caught(new Authenticator({
          registry: 'reg.example.com', plainHttp: true, credentials: staticCredentials('reg.example.com', { username: 'user', password: SECRETS[0] }),
        }).handleChallenge('Basic realm="r"', [])),
        unreachableRealm: await caught(new Authenticator({
          registry: '127.0.0.1:5000', plainHttp: true, credentials: staticCredentials('127.0.0.1:5000', { username: 'user', password: SECRETS[0] }),
        }).handleChallenge('Bearer realm="http://127.0.0.1:9/token",service="s"', ['repository:a:pull'])),
      };
      for (const [what, err] of Object.entries(errors)) {
        assert.ok(err instanceof Error, what);
        assertClean(what, err);
      }
    } finally {
      await dir.cleanup();
    }
  });
});
