import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CLI, requireTool, runCli, tempDir } from '../support/tools.js';

/** What bash's completion offers for the words typed so far (the last one being completed). */
function bashComplete(script: string, words: string[]): string[] {
  const program = `${script}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _ocipush; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = spawnSync('bash', ['--norc', '--noprofile', '-c', program], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean);
}

describe('ocipush completion', () => {
  it('bash: commands, options, choices, and --no-cache', () => {
    const r = runCli(['completion', 'bash']);
    assert.equal(r.status, 0, r.stderr);
    const script = r.stdout;
    assert.deepEqual(bashComplete(script, ['ocipush', 'p']), ['push', 'pull']);
    assert.deepEqual(bashComplete(script, ['ocipush', 'build', '--compr']), ['--compression']);
    assert.deepEqual(bashComplete(script, ['ocipush', 'build', '--compression', '']), ['gzip', 'none', 'zstd']);
    assert.deepEqual(bashComplete(script, ['ocipush', 'build', '--no-c']), ['--no-cache']);
    assert.deepEqual(bashComplete(script, ['ocipush', 'push', '--pass']), ['--password-stdin']);
    assert.deepEqual(bashComplete(script, ['ocipush', 'index', '']), ['create']);
    assert.deepEqual(bashComplete(script, ['ocipush', 'index', '--tag', 'app', '']), ['create']);
    // Past the action its words are not offered again: files come after artifact push REF (-o default).
    assert.deepEqual(bashComplete(script, ['ocipush', 'artifact', 'push', 'reg/app:1', '']), []);
    assert.deepEqual(bashComplete(script, ['ocipush', 'cache', 'ls', '']), []);
    assert.deepEqual(bashComplete(script, ['ocipush', 'completion', 'bash', '']), []);
    // A path after --layout: nothing of ours, so bash falls back to file names (-o default).
    assert.deepEqual(bashComplete(script, ['ocipush', 'push', '--layout', '']), []);
    // An alias completes as its command (it offered nothing: `cp` had no case of its own).
    assert.deepEqual(bashComplete(script, ['ocipush', 'cp', '--dest-p']), ['--dest-password-stdin', '--dest-plain-http']);
    assert.deepEqual(bashComplete(script, ['ocipush', 'prune', '--dr']), ['--dry-run']);
  });

  it('zsh: loads when sourced and when installed in $fpath, and registers _ocipush', async () => {
    requireTool('zsh');
    const tmp = await tempDir();
    try {
      const dir = join(tmp.path, 'functions');
      mkdirSync(dir);
      const r = runCli(['completion', 'zsh']);
      assert.equal(r.status, 0, r.stderr);
      writeFileSync(join(dir, '_ocipush'), r.stdout);
      const sourced = spawnSync('zsh', ['-f', '-c', `autoload -Uz compinit && compinit -u -d ${tmp.path}/dump1 && source <(${process.execPath} ${CLI} completion zsh) && print -r -- $_comps[ocipush]`], { encoding: 'utf8' });
      assert.equal(sourced.status, 0, sourced.stderr);
      assert.equal(sourced.stdout.trim(), '_ocipush');
      assert.equal(sourced.stderr, '');
      const installed = spawnSync('zsh', ['-f', '-c', `fpath=(${dir} $fpath); autoload -Uz compinit && compinit -u -d ${tmp.path}/dump2 && print -r -- $_comps[ocipush]`], { encoding: 'utf8' });
      assert.equal(installed.status, 0, installed.stderr);
      assert.equal(installed.stdout.trim(), '_ocipush');
    } finally {
      await tmp.cleanup();
    }
  });

  it('zsh: a command\'s description leaves its asides out, not what follows them', () => {
    requireTool('zsh');
    // The array _describe shows, as zsh itself reads it from the script.
    const program = `${runCli(['completion', 'zsh']).stdout.replace(/^if \[\[[\s\S]*$/m, '')}\nfunction _describe { print -rl -- $commands }\nCURRENT=2 _ocipush`;
    const r = spawnSync('zsh', ['-f', '-c', program], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const described = new Map(r.stdout.split('\n').filter(Boolean).map((line) => [line.split(':')[0]!, line.slice(line.indexOf(':') + 1)]));
    assert.equal(described.get('rebase'), 'Put an image onto a new base without rebuilding it\\: the old base\'s layers swapped for the new one\'s');
    assert.equal(described.get('validate'), 'Check that an image is whole\\: every blob there and matching its digest, every layer decompressing to its diff_id');
    assert.equal(described.get('blob'), 'Write one blob to stdout or a file');
    assert.equal(described.get('push'), 'Push an image from an OCI layout to a registry');
  });

  it('the shell comes from $SHELL when not named; another is a usage error', () => {
    const r = runCli(['completion'], { env: { SHELL: '/usr/bin/zsh' } });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^#compdef ocipush/);
    const fish = runCli(['completion'], { env: { SHELL: '/usr/bin/fish' } });
    assert.equal(fish.status, 2);
    assert.match(fish.stderr, /^ocipush: completion: name the shell, bash or zsh \(not "fish"\)$/m);
  });
});
