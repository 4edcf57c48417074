import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { CLI, requireTool, runCli, tempDir } from '../support/tools.js';

let registry: RunningRegistry;
let dir: { path: string; cleanup: () => Promise<void> };

before(async () => {
  registry = await startRegistry();
  dir = await tempDir();
});

after(async () => {
  await registry?.stop();
  await dir?.cleanup();
});

/** The command run with its stdout and stderr on a real terminal (a pty `script` opens), as a person at one sees it. */
function onTerminal(args: string[], env: NodeJS.ProcessEnv): string {
  const script = requireTool('script');
  const line = [process.execPath, CLI, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const r = spawnSync(script, ['-qec', line, '/dev/null'], { cwd: dir.path, env: { ...process.env, ...env }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  return r.stdout.replace(/\r/g, '');
}

test('TERM=dumb on a terminal (Emacs\' shell): build and push print the plain lines a log gets, never a cursor move or line erase', () => {
  const rootfs = join(dir.path, 'rootfs');
  mkdirSync(rootfs, { recursive: true });
  writeFileSync(join(rootfs, 'hello'), 'hello\n');
  const layout = join(dir.path, 'layout');

  const built = onTerminal(['build', rootfs, '--layout', layout, '--tag', 'app'], { TERM: 'dumb' });
  assert.doesNotMatch(built, /\x1b/, 'no escape sequence');
  assert.match(built, /^building layer 1\/1 /m, 'the start of each layer, as a log gets it');

  const pushed = onTerminal(['push', '--layout', layout, '--tag', 'app', `${registry.host}/dumb/app:1`], { TERM: 'dumb' });
  assert.doesNotMatch(pushed, /\x1b/, 'no escape sequence');
  assert.match(pushed, /^pushing layer sha256:[0-9a-f]{12} /m, 'the start of each blob, as a log gets it');
  assert.match(pushed, /^pushed 127\.0\.0\.1:\d+\/dumb\/app:1 /m);
  assert.equal(runCli(['digest', `${registry.host}/dumb/app:1`]).status, 0);
});

test('a terminal that can redraw (TERM=xterm) keeps its redrawn progress: the start lines are not printed', () => {
  const rootfs = join(dir.path, 'rootfs2');
  mkdirSync(rootfs, { recursive: true });
  writeFileSync(join(rootfs, 'hello'), 'hello again\n');
  const layout = join(dir.path, 'layout2');
  const built = onTerminal(['build', rootfs, '--layout', layout, '--tag', 'app'], { TERM: 'xterm' });
  assert.doesNotMatch(built, /^building layer/m);
  const pushed = onTerminal(['push', '--layout', layout, '--tag', 'app', `${registry.host}/xterm/app:1`], { TERM: 'xterm' });
  assert.doesNotMatch(pushed, /^pushing layer/m);
  assert.match(pushed, /^pushed 127\.0\.0\.1:\d+\/xterm\/app:1 /m);
});
