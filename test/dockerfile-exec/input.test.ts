import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readlinkSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI, runCli, tempDir } from '../support/tools.js';
import { startCli } from '../cli/registry-support.js';
import { build, layerListing, writeTree } from './support.js';

/** What `build -f` reads: the Dockerfile (a file, a pipe) and the context (a directory, a symlink to one). */

let tmp: { path: string; cleanup: () => Promise<void> };
before(async () => {
  tmp = await tempDir('ocipush-df-input-');
});
after(async () => {
  await tmp?.cleanup();
});

function mkfifo(path: string): void {
  const r = spawnSync('mkfifo', [path]);
  assert.equal(r.status, 0, 'mkfifo');
}

/**
 * Waits until the CLI holds `path` open (it then waits in the read, not in the open): true, or
 * false once it ended without. No time limit: a slow machine only makes it wait longer.
 */
async function holdsOpen(cli: ReturnType<typeof startCli>, path: string): Promise<boolean> {
  let ended = false;
  void cli.done.then(() => { ended = true; });
  const fds = `/proc/${cli.child.pid}/fd`;
  while (!ended) {
    try {
      if (readdirSync(fds).some((fd) => { try { return readlinkSync(`${fds}/${fd}`) === path; } catch { return false; } })) return true;
    } catch {
      return false;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

describe('the Dockerfile and the context build -f reads', () => {
  it('a FIFO Dockerfile is read once a writer comes, and with no writer SIGTERM and SIGINT still end the process', { timeout: 120_000 }, async () => {
    const ctx = join(tmp.path, 'fifo-ctx');
    writeTree(ctx, { f: 'f' });
    const fifo = join(tmp.path, 'Dockerfile.fifo');
    mkfifo(fifo);
    const written = startCli(['build', '-f', fifo, ctx, '--layout', join(tmp.path, 'fifo-layout'), '--json']);
    await writeFile(fifo, 'FROM scratch\nCOPY f /\n');
    const ok = await written.done;
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal((JSON.parse(ok.stdout) as { layers: unknown[] }).layers.length, 1);

    for (const [signal, status] of [['SIGTERM', 143], ['SIGINT', 130]] as const) {
      const waiting = startCli(['build', '-f', fifo, ctx, '--layout', join(tmp.path, `never-${signal}`)]);
      assert.ok(await holdsOpen(waiting, fifo), 'the build opens the FIFO and waits for a writer');
      waiting.child.kill(signal);
      const ended = await waiting.done;
      assert.equal(ended.status, status, `${signal}: ${ended.stderr}`);
    }
  });

  it('a Dockerfile that is neither a file nor a pipe is refused in one line', () => {
    const r = runCli(['build', '-f', '/dev/null', tmp.path, '--layout', join(tmp.path, 'never')]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^ocipush: cannot read Dockerfile \/dev\/null: not a regular file or a pipe\n$/);
  });

  it('a context on standard input (`build -f Dockerfile - < ctx.tar`, as docker build -) is refused in one line, not taken for the current directory', () => {
    const cwd = join(tmp.path, 'dash-cwd');
    writeTree(cwd, { Dockerfile: 'FROM scratch\nCOPY . /ctx/\n', 'secret.txt': 'not for the image' });
    const tarred = spawnSync('tar', ['-C', cwd, '-cf', '-', 'Dockerfile'], { encoding: 'buffer' }).stdout;
    const layout = join(tmp.path, 'dash-layout');
    const r = spawnSync(process.execPath, [CLI, 'build', '-f', 'Dockerfile', '-', '--layout', layout], { cwd, input: tarred, encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.equal(r.stderr, 'ocipush: build context -: a context read from standard input (docker build -) is not supported: unpack it into a directory (mkdir ctx && tar -xf - -C ctx) and name that directory\n');
    assert.deepEqual(readdirSync(cwd).sort(), ['Dockerfile', 'secret.txt'], 'no layout written');
    const two = runCli(['build', '-f', join(cwd, 'Dockerfile'), '-', cwd, '--layout', layout]);
    assert.equal(two.status, 2);
    assert.equal(two.stderr, `ocipush: -f/--file takes one build context directory, not 2 (- ${cwd})\n`);
  });

  it('-f naming the context directory, or the Dockerfile given as a rootfs, says how to write it', () => {
    const project = join(tmp.path, 'mixed-up');
    mkdirSync(project, { recursive: true });
    writeFileSync(join(project, 'Dockerfile'), 'FROM scratch\n');
    const never = join(tmp.path, 'never');
    let r = runCli(['build', '-f', '.', '--layout', never], { cwd: project });
    assert.equal(r.status, 2);
    assert.equal(r.stderr, 'ocipush: cannot read Dockerfile .: a directory (-f names the Dockerfile: ocipush build -f Dockerfile .)\n');
    r = runCli(['build', '-f', tmp.path, '--layout', never]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^ocipush: cannot read Dockerfile .*: a directory \(-f names the Dockerfile, the argument after the flags the context\)\n$/);
    r = runCli(['build', 'mixed-up/Dockerfile', '--layout', never], { cwd: tmp.path });
    assert.equal(r.status, 1);
    assert.equal(r.stderr, 'ocipush: rootfs mixed-up/Dockerfile: neither a directory nor a tar file; a Dockerfile is built with -f: ocipush build -f mixed-up/Dockerfile mixed-up\n');
    // The line's advice builds.
    assert.equal(runCli(['build', '-f', 'mixed-up/Dockerfile', 'mixed-up', '--layout', never, '-q'], { cwd: tmp.path }).status, 0);
  });

  it('a symlinked context is followed, as docker build does: the same image as from the directory', () => {
    const ctx = join(tmp.path, 'real-ctx');
    writeTree(ctx, { 'sub/a': 'a', b: 'b', Dockerfile: 'FROM scratch\nCOPY . /app/\n' });
    const link = join(tmp.path, 'ctx-link');
    symlinkSync('real-ctx', link);
    const viaLink = build(link, join(tmp.path, 'link-layout'), [], join(ctx, 'Dockerfile'));
    const direct = build(ctx, join(tmp.path, 'direct-layout'));
    assert.equal(viaLink.digest, direct.digest);
  });

  it('-f Dockerfile where the directory holds only dockerfile reads it, as BuildKit does (moby/moby#10858); another name has no fallback', () => {
    const ctx = join(tmp.path, 'lowercase');
    writeTree(ctx, { a: 'a', dockerfile: 'FROM scratch\nCOPY a /a\n' });
    const layout = join(tmp.path, 'lowercase-layout');
    const built = build(ctx, layout, ['--tag', 't'], join(ctx, 'Dockerfile'));
    assert.deepEqual(layerListing(layout, built.layers[0]!.digest), ['-rw-r--r-- 0/0 a']);
    const r = runCli(['build', '-f', join(ctx, 'Containerfile'), ctx, '--layout', join(tmp.path, 'lowercase-none')]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^ocipush: cannot read Dockerfile .*\/Containerfile: no such file or directory\n$/);
  });

  it('a socket in the context is sent as an empty regular file with its permissions, as fsutil does', async () => {
    const ctx = join(tmp.path, 'socket-ctx');
    writeTree(ctx, { Dockerfile: 'FROM scratch\nCOPY . /ctx/\n', f: 'f' });
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(join(ctx, 'app.sock'), resolve));
    try {
      spawnSync('chmod', ['0750', join(ctx, 'app.sock')]);
      const layout = join(tmp.path, 'socket-layout');
      const result = build(ctx, layout);
      assert.deepEqual(layerListing(layout, result.layers[0]!.digest), [
        'drwxr-xr-x 0/0 ctx/',
        '-rw-r--r-- 0/0 ctx/Dockerfile',
        '-rwxr-x--- 0/0 ctx/app.sock',
        '-rw-r--r-- 0/0 ctx/f',
      ]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('.dockerignore: a backslash in a file name is a plain character (Linux), not a separator', () => {
    const ctx = join(tmp.path, 'backslash-ctx');
    writeTree(ctx, { Dockerfile: 'FROM scratch\nCOPY . /ctx/\n', 'a\\': 'x', 'a\\b': 'y', 'c\\d': 'z', '.dockerignore': 'a\nc\\\\d\n.dockerignore\nDockerfile\n' });
    const layout = join(tmp.path, 'backslash-layout');
    const result = build(ctx, layout);
    assert.deepEqual(layerListing(layout, result.layers[0]!.digest), ['drwxr-xr-x 0/0 ctx/', '-rw-r--r-- 0/0 ctx/a\\\\', '-rw-r--r-- 0/0 ctx/a\\\\b']);
  });
});
