import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../support/tools.js';
import { buildCli, writeTree } from './support.js';

/**
 * BuildKit's build checks as `docker build` runs them (frontend/dockerfile/linter and
 * dockerfile2llb/validations.go, read from the source). buildah 1.28 has no build checks:
 * BuildKit's source is the reference here.
 */

let tmp: { path: string; cleanup: () => Promise<void> };
before(async () => {
  tmp = await tempDir('ocipush-df-lint-');
});
after(async () => {
  await tmp?.cleanup();
});

const warnings = (stderr: string): string[] => stderr.split('\n').filter((l) => l.startsWith('ocipush: warning: ')).map((l) => l.slice('ocipush: warning: '.length));

let n = 0;
function context(dockerfile: string): { ctx: string; layout: string } {
  const ctx = join(tmp.path, `ctx-${++n}`);
  writeTree(ctx, { Dockerfile: dockerfile });
  return { ctx, layout: join(tmp.path, `layout-${n}`) };
}

describe('SecretsUsedInArgOrEnv', () => {
  it('names ending in _FILE or _VERSION (or with PUBLIC) are not secrets, as in BuildKit since January 2026', () => {
    const { ctx, layout } = context('FROM scratch\nARG GPG_KEY_VERSION=2\nENV DB_PASSWORD_FILE=/run/secrets/db API_TOKEN_FILE=/run/t PUBLIC_KEY=k\n');
    const r = buildCli(ctx, layout, ['--tag', 't']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(warnings(r.stderr), []);
    const secret = context('FROM scratch\nARG GITHUB_TOKEN\nENV DB_PASSWORD=x\n');
    assert.deepEqual(warnings(buildCli(secret.ctx, secret.layout, ['--tag', 't']).stderr), [
      'Dockerfile:2: SecretsUsedInArgOrEnv: Do not use ARG or ENV instructions for sensitive data (ARG "GITHUB_TOKEN")',
      'Dockerfile:3: SecretsUsedInArgOrEnv: Do not use ARG or ENV instructions for sensitive data (ENV "DB_PASSWORD")',
    ]);
  });
});
