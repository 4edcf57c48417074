import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import module from 'node:module';
import { join } from 'node:path';
import { CLI, tempDir } from '../support/tools.js';
import { spawnSync } from 'node:child_process';

// Node 22.1+ can keep compiled code between runs; Node 20 cannot (and the CLI must not try).
const hasCompileCache = typeof (module as { enableCompileCache?: unknown }).enableCompileCache === 'function';

/** The environment without the variables by which Node itself turns its compile cache on or off. */
function envWith(vars: Record<string, string>): NodeJS.ProcessEnv {
  const env = { ...process.env, ...vars };
  delete env.NODE_DISABLE_COMPILE_CACHE;
  delete env.NODE_COMPILE_CACHE;
  return env;
}

function cli(args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', ...options });
}

test('the CLI keeps its compiled code under $XDG_CACHE_HOME/ocipush/compile-cache (Node 22+), never in the working directory', async () => {
  const tmp = await tempDir('ocipush-startup-');
  try {
    const cwd = join(tmp.path, 'work');
    const cache = join(tmp.path, 'cache');
    mkdirSync(cwd, { recursive: true });
    const r = cli(['push', '--help'], { cwd, env: envWith({ XDG_CACHE_HOME: cache }) });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(existsSync(join(cache, 'ocipush', 'compile-cache')), hasCompileCache);
    if (hasCompileCache) assert.ok(readdirSync(join(cache, 'ocipush', 'compile-cache')).length > 0);

    // A relative XDG_CACHE_HOME is ignored (XDG spec): the cache goes under $HOME/.cache, not the cwd.
    const home = join(tmp.path, 'home');
    const again = cli(['push', '--help'], { cwd, env: envWith({ XDG_CACHE_HOME: 'relative', HOME: home }) });
    assert.equal(again.status, 0, again.stderr);
    assert.deepEqual(readdirSync(cwd), []);
    assert.equal(existsSync(join(home, '.cache', 'ocipush', 'compile-cache')), hasCompileCache);
  } finally {
    await tmp.cleanup();
  }
});

test('--version prints the version before the rest of the CLI loads (the compile cache is not even enabled)', async () => {
  const tmp = await tempDir('ocipush-startup-');
  try {
    const r = cli(['--version'], { env: envWith({ XDG_CACHE_HOME: tmp.path }), cwd: tmp.path });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^\d+\.\d+\.\d+/);
    assert.equal(existsSync(join(tmp.path, 'ocipush')), false, 'the --version path enabled the compile cache, so it loaded more than version.js');
  } finally {
    await tmp.cleanup();
  }
});
