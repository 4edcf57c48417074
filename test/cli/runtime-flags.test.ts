import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { registryFixture } from '../support/registry.js';
import { runCli } from '../support/tools.js';
import { skopeoDigest } from '../registry/support.js';

/**
 * Node reports, with NODE_DEBUG_NATIVE=CODE_CACHE, each of its own modules it compiles and whether
 * the code cache it ships for it was taken. A V8 flag set at run time (src/cli/runtime-flags.ts)
 * makes V8 refuse every cache made under other flags, so a module loaded after the flags is
 * compiled from its source, at two to four times the CPU.
 */
function builtinsCompiled(stderr: string): { compiled: Set<string>; refused: Set<string> } {
  const compiled = new Set([...stderr.matchAll(/^Compiling (\S+) with(?:out)? code cache/gm)].map((m) => m[1]!));
  const refused = new Set([...stderr.matchAll(/^Code cache of (\S+) \(\w+\) is rejected/gm)].map((m) => m[1]!));
  return { compiled, refused };
}

/** The modules a push needs (the layout's reading and digests, the registry transport's undici), each 1 to 3 ms to compile from source. */
const HEAVY = ['crypto', 'internal/fs/promises', 'os', 'net', 'assert', 'http'];

describe('the CLI sets its V8 flags after loading the Node modules its commands need', () => {
  const fixture = registryFixture();

  it('push and re-push compile none of them without the code cache Node ships', () => {
    const tree = join(fixture.tmp.path, 'tree');
    mkdirSync(tree);
    writeFileSync(join(tree, 'hello.txt'), 'hello\n');
    const layout = join(fixture.tmp.path, 'layout');
    assert.equal(runCli(['build', tree, '--layout', layout, '--tag', 'v1', '-q']).status, 0);
    const env = { NODE_DEBUG_NATIVE: 'CODE_CACHE' };
    const runs = {
      push: runCli(['push', `${fixture.registry.host}/flags/app:v1`, '--layout', layout, '--tag', 'v1'], { env }),
      'push again': runCli(['push', `${fixture.registry.host}/flags/app:v1`, '--layout', layout, '--tag', 'v1'], { env }),
    };
    for (const [name, r] of Object.entries(runs)) {
      assert.equal(r.status, 0, `${name}: ${r.stderr.split('\n').filter((l) => !/^(Compiling|Code cache|snapshot) /.test(l)).join('\n')}`);
      const { compiled, refused } = builtinsCompiled(r.stderr);
      // The report is there (else this test would prove nothing): the command compiled these.
      for (const id of HEAVY) assert.ok(compiled.has(id), `${name}: no report of compiling ${id}`);
      assert.deepEqual(HEAVY.filter((id) => refused.has(id)), [], `${name}: compiled from source after the V8 flags`);
    }
    assert.match(runs.push.stdout, /^sha256:[0-9a-f]{64}\n$/);
    assert.equal(skopeoDigest(`${fixture.registry.host}/flags/app:v1`), runs.push.stdout.trim());
  });
});
