import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, tempDir } from '../support/tools.js';
import { snapshotDir } from '../assemble/support.js';
import { startCli } from './registry-support.js';
import { validate } from './json-schema.js';

/**
 * A registry that takes the connection and never answers (a hung server) holds build --base,
 * push and pull in mid-operation, for as long as the test wants: the signal arrives while the
 * command is working, whatever the machine's speed.
 */
interface HungServer { host: string; connected: Promise<void>; reset(): void; close(): Promise<void> }

async function startHungServer(): Promise<HungServer> {
  const sockets = new Set<net.Socket>();
  let notify: () => void = () => {};
  let connected = new Promise<void>((r) => { notify = r; });
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    // Read the request, never answer.
    socket.once('data', () => notify());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    get connected() { return connected; },
    reset() { connected = new Promise<void>((r) => { notify = r; }); },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

async function interrupted(args: string[], server: HungServer, signal: NodeJS.Signals) {
  server.reset();
  const { child, done } = startCli(args);
  await server.connected;
  child.kill(signal);
  return done;
}

describe('Ctrl-C and SIGTERM end build, push and pull with one line, the layout as it was', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let server: HungServer;
  let layout: string;
  let rootfs: string;

  before(async () => {
    tmp = await tempDir();
    server = await startHungServer();
    rootfs = join(tmp.path, 'rootfs');
    mkdirSync(rootfs);
    writeFileSync(join(rootfs, 'hello.txt'), 'hello\n');
    layout = join(tmp.path, 'layout');
    assert.equal(runCli(['build', rootfs, '--layout', layout, '-q']).status, 0);
  });
  after(async () => {
    await server?.close();
    await tmp?.cleanup();
  });

  it('build --base: SIGINT → 130', async () => {
    const before = snapshotDir(layout);
    const r = await interrupted(['build', rootfs, '--base', `${server.host}/base:1`, '--layout', layout, '--tag', 'next'], server, 'SIGINT');
    assert.equal(r.status, 130, r.stderr);
    assert.equal(r.stdout, '');
    assert.deepEqual(r.stderr.trimEnd().split('\n'), [`ocipush: build interrupted by SIGINT; ${layout} is left as it was`]);
    assert.deepEqual(snapshotDir(layout), before);
  });

  it('push: SIGTERM → 143', async () => {
    const before = snapshotDir(layout);
    const r = await interrupted(['push', `${server.host}/app:1`, '--layout', layout], server, 'SIGTERM');
    assert.equal(r.status, 143, r.stderr);
    assert.deepEqual(r.stderr.trimEnd().split('\n'), [`ocipush: push to ${server.host}/app:1 interrupted by SIGTERM; ${layout} is left as it was`]);
    assert.deepEqual(snapshotDir(layout), before);
  });

  it('build -f and build --base into a new directory: the signal leaves no directory', async () => {
    const dockerfile = join(tmp.path, 'Dockerfile');
    writeFileSync(dockerfile, `FROM ${server.host}/base:1\nCOPY rootfs/hello.txt /hello.txt\n`);
    for (const [args, signal] of [[['build', '-f', dockerfile, tmp.path], 'SIGTERM'], [['build', rootfs, '--base', `${server.host}/base:1`], 'SIGINT']] as const) {
      const target = join(tmp.path, `new-${args[1]!.length}`);
      const r = await interrupted([...args, '--layout', target, '--tag', 'x'], server, signal);
      assert.equal(r.status, signal === 'SIGINT' ? 130 : 143, r.stderr);
      assert.match(r.stderr, new RegExp(`interrupted by ${signal}; ${target} is left as it was\n$`));
      assert.equal(existsSync(target), false, `${args.join(' ')} left ${target}`);
    }
  });

  it('build --push and build -f --push, stopped while pushing: the line says the image is in the layout, as it is', async () => {
    const dockerfile = join(tmp.path, 'Dockerfile.push');
    writeFileSync(dockerfile, 'FROM scratch\nCOPY rootfs/hello.txt /hello.txt\n');
    for (const [args, signal] of [[['build', rootfs], 'SIGTERM'], [['build', '-f', dockerfile, tmp.path], 'SIGINT']] as const) {
      const target = join(tmp.path, `pushed-${args.length}`);
      const r = await interrupted([...args, '--layout', target, '--tag', 'v1', '--push', `${server.host}/app:bp`], server, signal);
      assert.equal(r.status, signal === 'SIGINT' ? 130 : 143, r.stderr);
      const index = JSON.parse(readFileSync(join(target, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
      assert.equal(index.manifests.length, 1, 'the build is done: its image is in the layout');
      assert.equal(r.stderr.trimEnd().split('\n').at(-1), `ocipush: push to ${server.host}/app:bp interrupted by ${signal}; the image built is in ${target} as v1 (${index.manifests[0]!.digest})`);
      assert.doesNotMatch(r.stderr, /left as it was/);
    }
  });

  it('build --cache-write and build -f --cache-write, stopped while writing the registry cache: the line says the image is in the layout, as it is', async () => {
    const dockerfile = join(tmp.path, 'Dockerfile.cache');
    writeFileSync(dockerfile, 'FROM scratch\nCOPY rootfs/hello.txt /hello.txt\n');
    // --no-cache asks the cache nothing: the first request is the store's, once the image is tagged.
    for (const [args, signal] of [[['build', rootfs], 'SIGINT'], [['build', '-f', dockerfile, tmp.path], 'SIGTERM']] as const) {
      const target = join(tmp.path, `cached-${args.length}`);
      const r = await interrupted([...args, '--layout', target, '--tag', 'v1', '--no-cache', '--cache-repo', `${server.host}/ci/cache`, '--cache-write'], server, signal);
      assert.equal(r.status, signal === 'SIGINT' ? 130 : 143, r.stderr);
      const index = JSON.parse(readFileSync(join(target, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
      assert.equal(index.manifests.length, 1, 'the build is done: its image is in the layout');
      assert.equal(r.stderr.trimEnd().split('\n').at(-1), `ocipush: ${args[1] === '-f' ? `build of ${dockerfile}` : 'build'} interrupted by ${signal}; the image built is in ${target} as v1 (${index.manifests[0]!.digest})`);
      assert.doesNotMatch(r.stderr, /left as it was/);
    }
  });

  it('pull: SIGINT → 130, no layout made', async () => {
    const target = join(tmp.path, 'pulled');
    const r = await interrupted(['pull', `${server.host}/app:1`, '--layout', target], server, 'SIGINT');
    assert.equal(r.status, 130, r.stderr);
    assert.deepEqual(r.stderr.trimEnd().split('\n'), [`ocipush: pull of ${server.host}/app:1 interrupted by SIGINT; ${target} is left as it was`]);
    assert.equal(existsSync(target), false);
  });

  it('every other command too (copy, mutate, digest, index create): the status, one line, and with --json the error document on stdout', async () => {
    const target = join(tmp.path, 'copied');
    const cases: [string[], NodeJS.Signals, string][] = [
      [['copy', `${server.host}/app:1`, `oci:${target}:app`], 'SIGTERM', 'copy'],
      [['mutate', `${server.host}/app:1`, '--label', 'a=b'], 'SIGINT', 'mutate'],
      [['digest', `${server.host}/app:1`], 'SIGTERM', 'digest'],
      [['index', 'create', `${server.host}/app:1`, '--tag', `${server.host}/app:multi`], 'SIGTERM', 'index create'],
    ];
    for (const [args, signal, what] of cases) {
      for (const json of [false, true]) {
        const r = await interrupted(json ? [...args, '--json'] : args, server, signal);
        assert.equal(r.status, signal === 'SIGINT' ? 130 : 143, `${args.join(' ')}: ${r.stderr}`);
        assert.deepEqual(r.stderr.trimEnd().split('\n'), [`ocipush: ${what} interrupted by ${signal}`]);
        if (!json) {
          assert.equal(r.stdout, '');
          continue;
        }
        const doc = JSON.parse(r.stdout) as unknown;
        assert.deepEqual(validate('error.schema.json', doc), []);
        assert.deepEqual(doc, { error: { code: 'EABORTED', message: `${what} interrupted by ${signal}` } });
      }
    }
    assert.equal(existsSync(target), false, 'copy made no layout');

    // A command with its own words (push) gives them in the document too.
    const r = await interrupted(['push', `${server.host}/app:1`, '--layout', layout, '--json'], server, 'SIGTERM');
    assert.equal(r.status, 143, r.stderr);
    const message = `push to ${server.host}/app:1 interrupted by SIGTERM; ${layout} is left as it was`;
    assert.deepEqual(JSON.parse(r.stdout), { error: { code: 'EABORTED', message } });
  });
});
