import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, lstatSync, mkdirSync, openSync, readFileSync, readdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { killOnExit } from '../support/exit-cleanup.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { CLI, requireTool, run, tempDir } from '../support/tools.js';
import { pseudoRandom } from '../assemble/support.js';
import { assertOk, runCliAsync } from '../cli/registry-support.js';
import { podman } from './support.js';

/**
 * An archive is written under a temp name beside its file (`.out.tar.tmp-PID-HEX`) and renamed
 * when whole. Ctrl-C removes it; a writer killed with SIGKILL (an OOM kill, a CI timeout) cannot,
 * and the next write of the same file removes it, once it is silent and its PID gone.
 */
describe('an archive file a killed process was writing', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let registry: RunningRegistry;
  let proxy: FaultProxy;

  before(async () => {
    tmp = await tempDir();
    registry = await startRegistry();
    proxy = await startFaultProxy({ target: registry.url });
    const rootfs = join(tmp.path, 'rootfs');
    mkdirSync(rootfs);
    writeFileSync(join(rootfs, 'data'), pseudoRandom(256 * 1024));
    const layout = join(tmp.path, 'layout');
    assertOk(await runCliAsync(['build', rootfs, '--layout', layout, '--tag', 'app']));
    assertOk(await runCliAsync(['push', `${registry.host}/sink/app:1`, '--layout', layout, '--tag', 'app']));
  });
  after(async () => {
    await proxy?.stop();
    await registry?.stop();
    await tmp?.cleanup();
  });

  const temps = (dir: string) => readdirSync(dir).filter((n) => n.startsWith('.out.tar.tmp-')).sort();

  it('copy to docker-archive: SIGKILL mid-download leaves the temp file; the next copy to that file removes it', async () => {
    const dir = join(tmp.path, 'out');
    mkdirSync(dir);
    const archive = join(dir, 'out.tar');
    proxy.clearFaults();
    proxy.clearRequests();
    proxy.addFault({ method: 'GET', path: /\/blobs\/sha256:/, times: Infinity, fault: { kind: 'hold-response', until: /release-held/, timeoutMs: 600_000 } });
    const child = spawn(process.execPath, [CLI, 'copy', `${proxy.host}/sink/app:1`, `docker-archive:${archive}`, '-q'], { stdio: 'ignore' });
    const forget = killOnExit(child);
    while (!proxy.requests().some((r) => r.method === 'GET' && r.path.includes('/blobs/sha256:'))) {
      assert.equal(child.exitCode, null, 'the copy is still running');
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('close', resolve));
    forget();
    proxy.clearFaults();
    await fetch(`${proxy.url}/release-held`).then((r) => r.arrayBuffer()).catch(() => {});
    const [killed] = temps(dir);
    assert.match(killed ?? '', new RegExp(`^\\.out\\.tar\\.tmp-${child.pid}-[0-9a-f]+$`), 'the killed copy left its temp file');

    // Another writer's, as far as anyone here can tell: a live PID, or a silence shorter than 30 s.
    const live = `.out.tar.tmp-${process.pid}-0123456789ab`;
    writeFileSync(join(dir, live), 'another writer');
    const aged = (name: string, seconds: number) => { const t = new Date(Date.now() - seconds * 1000); utimesSync(join(dir, name), t, t); };
    aged(live, 120);
    // Just heard from, however slow this machine is: its mtime a while ahead.
    aged(killed!, -600);
    assertOk(await runCliAsync(['copy', `${registry.host}/sink/app:1`, `docker-archive:${archive}`, '-q']));
    assert.deepEqual(temps(dir), [killed, live].sort(), 'a temp file heard from within 30 s is not judged yet');

    aged(killed!, 40);
    assertOk(await runCliAsync(['copy', `${registry.host}/sink/app:1`, `docker-archive:${archive}`, '-q']));
    assert.deepEqual(temps(dir), [live], 'the killed writer\'s temp file is gone; the live one stays');
    requireTool('skopeo');
    assert.equal(JSON.parse(run('skopeo', ['inspect', `docker-archive:${archive}`])).Layers.length, 1);
  });
});

/**
 * An archive named by a symbolic link is written through it, as a shell's > writes: the link
 * stays. /dev/stdout is such a link (to /proc/self/fd/1); the test makes its own, so that without
 * the fix it replaces a link of the test's, never the machine's /dev/stdout.
 */
describe('an archive file named by a symbolic link', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let layout: string;

  before(async () => {
    tmp = await tempDir();
    const rootfs = join(tmp.path, 'rootfs');
    mkdirSync(rootfs);
    writeFileSync(join(rootfs, 'hello.txt'), 'hello\n');
    layout = join(tmp.path, 'layout');
    assertOk(await runCliAsync(['build', rootfs, '--layout', layout, '--tag', 'app:1', '-q']));
  });
  after(() => tmp?.cleanup());

  const loads = (archive: string, name: string): void => {
    const p = podman(join(tmp.path, `podman-${name.replace(/[/:]/g, '-')}`));
    try {
      assert.match(p.run(['load', '-i', archive]), new RegExp(`Loaded image: ${name}\\n`));
    } finally {
      p.cleanup();
    }
  };

  it('export -o LINK writes the file the link names and keeps the link', async () => {
    mkdirSync(join(tmp.path, 'kept'));
    const link = join(tmp.path, 'latest.tar');
    symlinkSync(join('kept', 'app-1.tar'), link);
    assertOk(await runCliAsync(['export', 'app:1', '--layout', layout, '-o', link, '-q']));
    assert.ok(lstatSync(link).isSymbolicLink(), 'the link is still a link');
    loads(join(tmp.path, 'kept', 'app-1.tar'), 'localhost/app:1');
  });

  it('docker-archive:LINK to /proc/self/fd/1, stdout a file (skopeo copy … docker-archive:/dev/stdout > app.tar): the file holds the archive', () => {
    const link = join(tmp.path, 'stdout');
    symlinkSync('/proc/self/fd/1', link);
    const file = join(tmp.path, 'from-stdout.tar');
    const fd = openSync(file, 'w');
    try {
      const r = spawnSync(process.execPath, [CLI, 'copy', '-q', `oci:${layout}:app:1`, `docker-archive:${link}:localhost/piped:1`], { stdio: ['ignore', fd, 'pipe'], encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    } finally {
      closeSync(fd);
    }
    assert.ok(lstatSync(link).isSymbolicLink(), 'the link is still a link');
    loads(file, 'localhost/piped:1');
  });
});

describe('an archive to /dev/stdout, stdout a pipe (… docker-archive:/dev/stdout | podman load, export -o /dev/stdout | gzip)', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let layout: string;

  before(async () => {
    tmp = await tempDir();
    const rootfs = join(tmp.path, 'rootfs');
    mkdirSync(rootfs);
    writeFileSync(join(rootfs, 'hello.txt'), 'hello\n');
    layout = join(tmp.path, 'layout');
    assertOk(await runCliAsync(['build', rootfs, '--layout', layout, '--tag', 'app:1', '-q']));
  });
  after(() => tmp?.cleanup());

  it('carries the archive byte for byte, as the file is written, and nothing after it: the digest and lines go to stderr', () => {
    const digest = JSON.parse(run('skopeo', ['inspect', `oci:${layout}:app:1`])).Digest as string;
    const file = (name: string) => join(tmp.path, name);
    const cases: { piped: string[]; toFile: string[]; written: string }[] = [
      { piped: ['copy', `oci:${layout}:app:1`, 'docker-archive:/dev/stdout:localhost/piped:1'], toFile: ['copy', '-q', `oci:${layout}:app:1`, `docker-archive:${file('copy.tar')}:localhost/piped:1`], written: file('copy.tar') },
      { piped: ['copy', `oci:${layout}:app:1`, 'oci-archive:/dev/stdout:piped'], toFile: ['copy', '-q', `oci:${layout}:app:1`, `oci-archive:${file('copy-oci.tar')}:piped`], written: file('copy-oci.tar') },
      { piped: ['export', '--layout', layout, 'app:1', '-o', '/dev/stdout'], toFile: ['export', '-q', '--layout', layout, 'app:1', '-o', file('export.tar')], written: file('export.tar') },
      { piped: ['rootfs', `oci:${layout}:app:1`, '-o', '/dev/fd/1'], toFile: ['rootfs', '-q', `oci:${layout}:app:1`, '-o', file('rootfs.tar')], written: file('rootfs.tar') },
    ];
    for (const { piped, toFile, written } of cases) {
      const r = spawnSync(process.execPath, [CLI, ...piped], { maxBuffer: 64 << 20 });
      assert.equal(r.status, 0, r.stderr.toString());
      const wrote = spawnSync(process.execPath, [CLI, ...toFile], { encoding: 'utf8' });
      assert.equal(wrote.status, 0, wrote.stderr);
      assert.ok(r.stdout.equals(readFileSync(written)), `${piped.join(' ')}: stdout is the archive the file holds, nothing more (${r.stdout.length} bytes, the file ${readFileSync(written).length})`);
      assert.ok(r.stderr.toString().includes(digest), `${piped.join(' ')}: the digest is on stderr`);
    }
    // Through a shell's pipe, as a user writes it.
    const loaded = file('from-stdout.tar');
    const piped = spawnSync('bash', ['-c', '"$0" "$1" copy "$2" docker-archive:/dev/stdout:localhost/piped:1 | cat > "$3"', process.execPath, CLI, `oci:${layout}:app:1`, loaded], { encoding: 'utf8' });
    assert.equal(piped.status, 0, piped.stderr);
    assert.ok(readFileSync(loaded).equals(readFileSync(file('copy.tar'))), 'the pipe carried the archive alone');
    const p = podman(join(tmp.path, 'podman-piped'));
    try {
      assert.match(p.run(['load', '-i', loaded]), /Loaded image: localhost\/piped:1\n/);
    } finally {
      p.cleanup();
    }
    // docker-archive:- is stdout too, as -o - is, and as a source stdin: no file named - appears.
    const dash = spawnSync('bash', ['-c', '"$0" "$1" copy -q "$2" docker-archive:-:localhost/piped:1 | cat > "$3" && "$0" "$1" copy -q docker-archive:- "oci:$4:back" < "$3" && "$0" "$1" ls oci-archive:- < "$5"',
      process.execPath, CLI, `oci:${layout}:app:1`, file('dash.tar'), file('back'), file('copy-oci.tar')], { encoding: 'utf8', cwd: tmp.path });
    assert.equal(dash.status, 0, dash.stderr);
    assert.equal(dash.stdout, 'piped\n');
    assert.ok(readFileSync(file('dash.tar')).equals(readFileSync(file('copy.tar'))), 'docker-archive:- wrote the archive to stdout');
    assert.ok(!readdirSync(tmp.path).includes('-'), 'no file named -');
    assert.equal(JSON.parse(run('skopeo', ['inspect', `oci:${file('back')}:back`])).Digest, digest);
    const json = spawnSync(process.execPath, [CLI, 'copy', '--json', `oci:${layout}:app:1`, 'docker-archive:/dev/stdout'], { encoding: 'utf8' });
    assert.equal(json.status, 2, json.stderr);
    assert.equal(json.stderr, 'ocipush: --json needs a file: docker-archive:/dev/stdout is stdout, which carries the archive\n');
  });
});
