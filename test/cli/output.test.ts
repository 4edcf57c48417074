import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { CLI, requireTool, run, runCli, tempDir } from '../support/tools.js';

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

// `inspect` printed an image's labels and env as they were: a label holding "\x1b]0;…\x07" retitled
// the reader's terminal, "\x1b[2J" cleared it. So did a name in a layout's index.json under `ls`.
test('what an image says (a label, an env value, a name in index.json) is printed with its control characters escaped, one line each', () => {
  const rootfs = join(dir.path, 'rootfs3');
  mkdirSync(rootfs, { recursive: true });
  writeFileSync(join(rootfs, 'hello'), 'hello\n');
  const layout = join(dir.path, 'hostile');
  assert.equal(runCli(['build', rootfs, '--layout', layout, '--tag', 'app', '-q', '--label', 'title=\x1b]0;owned\x07', '--env', 'CLEAR=\x1b[2J']).status, 0);
  // The image holds them as given (skopeo reads the same config).
  const config = JSON.parse(run('skopeo', ['inspect', '--config', `oci:${layout}:app`])) as { config: { Labels: Record<string, string>; Env: string[] } };
  assert.equal(config.config.Labels.title, '\x1b]0;owned\x07');

  const inspected = runCli(['inspect', `oci:${layout}:app`]);
  assert.equal(inspected.status, 0, inspected.stderr);
  assert.doesNotMatch(inspected.stdout, /[\x00-\x09\x0b-\x1f\x7f]/, 'no control character but the line ends');
  assert.match(inspected.stdout, /^Label: +title=\\x1b\]0;owned\\x07$/m);
  assert.match(inspected.stdout, /^Env: +CLEAR=\\x1b\[2J$/m);
  // --json is JSON: its strings carry the characters, escaped by JSON itself.
  const json = runCli(['inspect', `oci:${layout}:app`, '--json']);
  assert.equal((JSON.parse(json.stdout) as { config: { config: { Labels: Record<string, string> } } }).config.config.Labels.title, '\x1b]0;owned\x07');

  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: { annotations: Record<string, string> }[] };
  index.manifests[0]!.annotations['org.opencontainers.image.ref.name'] = 'app\x1b[2J';
  writeFileSync(join(layout, 'index.json'), JSON.stringify(index));
  const listed = runCli(['ls', `oci:${layout}`]);
  assert.equal(listed.stdout, 'app\\x1b[2J\n');
});

// `ocipush blob REF@<layer>` at a terminal wrote the layer's gzip to it: a megabyte of bytes whose
// escape sequences scrambled the terminal, where export and rootfs refuse one.
test('blob at a terminal: a layer (binary) is refused in one line before a byte is written, a config (JSON) is shown; piped, both are written', () => {
  const rootfs = join(dir.path, 'rootfs4');
  mkdirSync(rootfs, { recursive: true });
  writeFileSync(join(rootfs, 'hello'), 'hello\n');
  const layout = join(dir.path, 'blobs');
  const ref = `${registry.host}/blob/app:1`;
  assert.equal(runCli(['build', rootfs, '--layout', layout, '--tag', 'app', '-q']).status, 0);
  assert.equal(runCli(['push', ref, '--layout', layout, '--tag', 'app', '-q']).status, 0);
  const manifest = JSON.parse(runCli(['manifest', ref]).stdout) as { config: { digest: string }; layers: { digest: string }[] };
  const layer = `${registry.host}/blob/app@${manifest.layers[0]!.digest}`;
  const config = `${registry.host}/blob/app@${manifest.config.digest}`;

  const line = (...args: string[]) => [process.execPath, CLI, ...args].map((a) => `'${a}'`).join(' ');
  const refused = spawnSync(requireTool('script'), ['-qec', line('blob', layer), '/dev/null'], { env: { ...process.env, TERM: 'xterm' }, encoding: 'latin1' });
  assert.equal(refused.status, 2);
  assert.equal(refused.stdout.replace(/\r/g, ''), 'ocipush: refusing to write a binary blob to a terminal: name a file with -o FILE, or pipe the output\n');

  const shown = spawnSync(requireTool('script'), ['-qec', line('blob', config), '/dev/null'], { env: { ...process.env, TERM: 'xterm' }, encoding: 'utf8' });
  assert.equal(shown.status, 0, shown.stdout);
  assert.equal(shown.stdout.replace(/\r/g, ''), runCli(['config', ref]).stdout);

  const piped = spawnSync(process.execPath, [CLI, 'blob', layer], { maxBuffer: 1 << 26 });
  assert.equal(piped.status, 0);
  assert.equal(`sha256:${createHash('sha256').update(piped.stdout).digest('hex')}`, manifest.layers[0]!.digest);
});
