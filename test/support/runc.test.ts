import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdirSync, readdirSync } from 'node:fs';
import { tempDir } from './tools.js';
import { runImage } from './runc.js';
import { makeHelloLayout, type HelloLayout } from '../archive/fixtures.js';

describe('runImage (umoci unpack + runc run)', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let fx: HelloLayout;

  before(async () => {
    tmp = await tempDir('ocipush-runc-test-');
    fx = makeHelloLayout(join(tmp.path, 'fixture'));
  });
  after(() => tmp.cleanup());

  it('runs the static hello entrypoint of a umoci-built image', () => {
    const r = runImage(fx.layout, 'scratch');
    assert.equal(r.stderr, '');
    assert.equal(r.stdout, 'hello world\n');
    assert.equal(r.status, 0);
  });

  it('passes args and env, and reports the exit status', () => {
    const r = runImage(fx.layout, 'alpine', { args: ['/bin/sh', '-c', 'echo "$GREETING from $(/hello)"; exit 3'], env: { GREETING: 'hi' } });
    assert.equal(r.stdout, 'hi from hello world\n');
    assert.equal(r.status, 3);
  });

  it('leaves no bundle or runc state behind', () => {
    const root = join(tmp.path, 'runs');
    mkdirSync(root);
    assert.equal(runImage(fx.layout, 'scratch', { tmpRoot: root }).status, 0);
    assert.throws(() => runImage(fx.layout, 'scratch', { tmpRoot: root, args: [] }), /no Entrypoint or Cmd/);
    assert.deepEqual(readdirSync(root), []);
  });

  it('names what a layout has when the tag is unknown', () => {
    assert.throws(() => runImage(fx.layout, 'nope'), /no image tagged "nope" .*\(it has: scratch, alpine\)/);
  });
});
