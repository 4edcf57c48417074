import test from 'node:test';
import assert from 'node:assert/strict';
import type { CliCommand } from '../../src/cli/command.js';
import { commandEntries, loadCommands } from '../../src/cli/commands.js';
import { fastInvocation, parseCommandLine, recordCommand } from '../../src/cli/fast-args.js';
import { parseWithYargs } from '../../src/cli/yargs-cli.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, runCli, tempDir } from '../support/tools.js';

/** What yargs hands the command for this line, or its error message. */
async function yargsArgv(commands: CliCommand<any>[], args: string[]): Promise<Record<string, unknown> | string> {
  let argv: Record<string, unknown> | undefined;
  try {
    await parseWithYargs(args, commands, async (_cmd, a) => { argv = a; return 0; });
  } catch (err) {
    return `error: ${(err as Error).message}`;
  }
  return argv ?? 'no command ran';
}

function fastArgv(commands: CliCommand<any>[], args: string[]): Record<string, unknown> | undefined {
  const command = commands.find((c) => String(c.command).split(' ')[0] === args[0]);
  const spec = command && recordCommand(command);
  return spec ? parseCommandLine(spec, args) : undefined;
}

function comparable(argv: Record<string, unknown>): Record<string, unknown> {
  // JSON drops keys whose value is undefined, as a command reading argv.x cannot tell them apart.
  return JSON.parse(JSON.stringify(argv)) as Record<string, unknown>;
}

/** Lines the fast parser takes: each must give the argv yargs gives, key for key. */
const FAST = [
  'push r.io/a:b',
  'push localhost:5000/a/b:c --layout L --tag t -q',
  'push r.io/a:b --json',
  'push r.io/a:b --json --quiet',
  'push r.io/a:b --no-json',
  'push r.io/a:b --also-tag x --also-tag y --digest-file d.txt',
  'push r.io/a:b --concurrency 8 --chunk-size 4MiB',
  'push r.io/a:b -u me --password-stdin --plain-http --insecure',
  'push r.io/a:b --ca-file a.pem --ca-file b.pem --mount-from team/base',
  'push r.io/a:b --layout=L --tag=t',
  'push 123',
  'push --tag t r.io/a:b',
  'push r.io/a:b --also-tag x y', // one tag; y is the destination
  'build',
  'build a b c',
  'build a --no-cache',
  'build --cache a',
  'build a -e A=1 -e B=2 --tag x -l k=v',
  'build -e A=1 ./rootfs --label k=v ./more', // one value per use, as docker's -e: the rest are positionals
  'attach r.io/a:b -a k=v f1 f2',
  'build a --env=A=1',
  'build a --format docker --compression none --level 5 --threads 2',
  'build a --entrypoint ["/bin/sh"] --cmd run -w /app -u 0:0 --owner 0:0 --created 0',
  'build a --base localhost:5000/base:1 --remove /etc/x --expose 80/tcp -a k=v',
  'build -f Dockerfile . --build-arg A=1 --target t --read-base',
  'pull r.io/a:b --layout L',
  'inspect x --json',
  'export a b',
  'index create a b --tag t',
  'sign r.io/a:b --key cosign.key -a k=v',
  'verify r.io/a:b --key=cosign.pub --json',
  'attach r.io/a:b f1 f2',
  'generate-key-pair',
];

/** Lines it leaves to yargs: help, mistakes, and forms yargs reads its own way. */
const DECLINED = [
  'push', // missing positional: yargs' message
  'push a b c', // one positional too many (push takes SOURCE DESTINATION at most)
  'push r.io/a:b --help',
  'push r.io/a:b -h',
  'push r.io/a:b --version',
  'push r.io/a:b --bogus',
  'push r.io/a:b --no-bogus',
  'push r.io/a:b --tag', // no value
  'push r.io/a:b --tag -q', // yargs: tag '' and -q
  'push r.io/a:b --tag a --tag b', // yargs: an array
  'push r.io/a:b -t a --tag b',
  'push r.io/a:b --json false', // yargs: json=false
  'push r.io/a:b --json=true',
  'push r.io/a:b --concurrency 0x10',
  'push r.io/a:b --concurrency abc',
  'push r.io/a:b -qv',
  'push r.io/a:b --alsoTag x',
  'push r.io/a:b -- x',
  'push r.io/a:b --no-tag',
  'build a --format tar',
  'index remove a --tag t',
  'sign r.io/a:b', // --key is demanded: yargs' message
  'pussh r.io/a:b',
];

test('the fast parser gives every command the argv yargs gives it', async () => {
  const commands = await loadCommands();
  for (const line of FAST) {
    const args = line.split(' ');
    const fast = fastArgv(commands, args);
    assert.ok(fast, `the fast parser should take: ${line}`);
    const viaYargs = await yargsArgv(commands, args);
    assert.equal(typeof viaYargs, 'object', `yargs refused ${line}: ${String(viaYargs)}`);
    const { $0: _a, ...expected } = comparable(viaYargs as Record<string, unknown>);
    const { $0: _b, ...actual } = comparable(fast);
    assert.deepEqual(actual, expected, line);
  }
});

test('lines the fast parser is unsure of go to yargs', async () => {
  const commands = await loadCommands();
  for (const line of DECLINED) assert.equal(fastArgv(commands, line.split(' ')), undefined, line);
  // And those yargs does parse, it parses differently from a naive reading (so declining was right).
  assert.equal((await yargsArgv(commands, 'push r.io/a:b --json false'.split(' ')) as Record<string, unknown>).json, false);
});

test('a repeatable option takes one value per use, as docker -e does: `build -e A=1 ./rootfs` builds ./rootfs with A=1', async (t) => {
  const commands = await loadCommands();
  const viaYargs = await yargsArgv(commands, 'build -e A=1 ./rootfs'.split(' ')) as Record<string, unknown>;
  assert.deepEqual([viaYargs.env, viaYargs.rootfs], [['A=1'], ['./rootfs']]);
  const tmp = await tempDir();
  t.after(tmp.cleanup);
  mkdirSync(join(tmp.path, 'rootfs'));
  writeFileSync(join(tmp.path, 'rootfs', 'hello'), 'hello\n');
  const layout = join(tmp.path, 'layout');
  // Through yargs (--help-free, but an option the fast parser declines: --json=true) and the fast parser alike.
  for (const extra of [[], ['--json=true']]) {
    const r = runCli(['build', '-e', 'A=1', '--label', 'k=v', join(tmp.path, 'rootfs'), '--layout', layout, '--tag', 'v', ...extra]);
    assert.equal(r.status, 0, r.stderr);
    const config = JSON.parse(run('skopeo', ['inspect', '--config', `oci:${layout}:v`])) as { config: { Env?: string[]; Labels?: Record<string, string> } };
    assert.ok(config.config.Env?.includes('A=1'), JSON.stringify(config.config));
    assert.deepEqual(config.config.Labels, { k: 'v' });
  }
});

test('each command entry names its module\'s command, and every builder can be recorded', async () => {
  for (const entry of commandEntries) {
    const command = await entry.load();
    const words = (Array.isArray(command.command) ? command.command[0]! : command.command).split(' ');
    assert.equal(words[0], entry.name);
    // A builder using a yargs feature the recorder does not know still works (through yargs), but
    // its command loses the fast start: say so here rather than find out from a benchmark.
    assert.ok(recordCommand(command), `${entry.name}: its builder uses a yargs method or option key fast-args.ts does not know`);
  }
});

test('a builder using a yargs feature the recorder does not know is left to yargs', async () => {
  const command: CliCommand = {
    command: 'demo <x>',
    describe: 'demo',
    builder: (y) => y.positional('x', { type: 'string' }).check(() => true),
    run: async () => {},
  };
  assert.equal(recordCommand(command), undefined);
  const coerced: CliCommand = { ...command, builder: (y) => y.option('n', { type: 'string', coerce: (s: string) => s.trim() }) };
  assert.equal(recordCommand(coerced), undefined);
  assert.equal(await fastInvocation(['demo', 'a'], [{ name: 'demo', load: async () => command }]), undefined);
});

test('the CLI still answers help and usage errors through yargs', () => {
  const help = runCli(['push', '--help']);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /^ocipush push <reference>/);
  assert.match(help.stdout, /--also-tag/);
  const missing = runCli(['push']);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /^ocipush: push: missing <reference> \(Destination: /);
  const unknown = runCli(['push', 'r.io/a:b', '--bogus']);
  assert.equal(unknown.status, 2);
  // Named by the argument check (src/cli/argv-check.ts) before yargs reads the line.
  assert.match(unknown.stderr, /^ocipush: unknown option --bogus for push /);
  const top = runCli(['--help']);
  assert.equal(top.status, 0);
  for (const entry of commandEntries) assert.match(top.stdout, new RegExp(`^\\s+ocipush ${entry.name}\\b`, 'm'));
});
