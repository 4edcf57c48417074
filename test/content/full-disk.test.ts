import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { ArchiveWriter } from '../../src/archive/archive-writer.js';
import { OciLayout } from '../../src/content/layout.js';
import { judge, withLock } from '../../src/content/lock.js';
import { copyGraph } from '../../src/transfer/copy-graph.js';
import { OcipushError } from '../../src/errors.js';
import { sha256 } from '../../src/oci/digest.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { CLI, requireTool, run, runCli, tempDir } from '../support/tools.js';
import { umociImage, type UmociImage } from '../registry/support.js';
import { assertOk, assertOneLineError } from '../cli/registry-support.js';

/**
 * A real small file system (tmpfs, mounted for the test: the tests run as root), so the disk's
 * own ENOSPC and EROFS reach every stream, as on a user's full or read-only disk.
 */
function mountTmpfs(dir: string, options: string): boolean {
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

function unmount(dir: string): void {
  try { execFileSync('umount', [dir], { stdio: 'pipe' }); } catch { /* not mounted */ }
}

describe('a full or read-only disk', () => {
  let registry: RunningRegistry;
  let tmp: { path: string; cleanup: () => Promise<void> };
  let image: UmociImage;
  let full: string;
  let readOnly: string;
  let mounted = false;

  before(async () => {
    tmp = await tempDir();
    full = join(tmp.path, 'small');
    readOnly = join(tmp.path, 'ro');
    mounted = mountTmpfs(full, 'size=2m') && mountTmpfs(readOnly, 'size=1m,ro');
    registry = await startRegistry();
    // A 6 MB layer of random bytes (incompressible): more than the 2 MB disk holds.
    image = umociImage(tmp.path, 'big', [6_000_000]);
    assertOk(runCli(['push', `${registry.host}/disk/big:1`, '--layout', image.layout]));
  });
  after(async () => {
    unmount(full);
    unmount(readOnly);
    await registry?.stop();
    await tmp?.cleanup();
  });

  it('pull onto a full disk fails with one line naming ENOSPC and the layout, and leaves no layout behind', (t) => {
    if (!mounted) return t.skip('cannot mount a tmpfs here (needs root)');
    const dir = join(full, 'pulled');
    const r = runCli(['pull', `${registry.host}/disk/big:1`, '--layout', dir, '-q']);
    assertOneLineError(r, new RegExp(`^ocipush: cannot write to layout ${dir.replace(/[/.]/g, '\\$&')}: no space left on device$`));
    assert.equal(existsSync(dir), false, 'the layout the failed pull made is removed again');
    assert.deepEqual(readdirSync(full), [], 'nothing is left on the disk');
  });

  it('pull onto a full disk into an existing layout keeps the layout, without the pulled blobs or temp files', async (t) => {
    if (!mounted) return t.skip('cannot mount a tmpfs here (needs root)');
    const dir = join(full, 'existing');
    const layout = await OciLayout.open(dir, { create: true });
    await layout.close();
    const r = runCli(['pull', `${registry.host}/disk/big:1`, '--layout', dir, '--json']);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /no space left on device/);
    assert.equal(JSON.parse(r.stdout).error.code, 'EIO');
    assert.deepEqual(readdirSync(dir).sort(), ['blobs', 'index.json', 'oci-layout']);
    assert.deepEqual(readdirSync(join(dir, 'blobs', 'sha256')), [], 'no blob, no temp file');
  });

  it('the layout store rejects a blob the disk cannot hold (ENOSPC from the file stream) and removes its temp file', async (t) => {
    if (!mounted) return t.skip('cannot mount a tmpfs here (needs root)');
    const layout = await OciLayout.open(join(full, 'lib'), { create: true });
    t.after(() => layout.close());
    const bytes = Buffer.alloc(4 << 20, 7);
    const err = await layout.push({ digest: sha256(bytes), size: bytes.length }, Readable.from([bytes.subarray(0, 1 << 20), bytes.subarray(1 << 20)]))
      .then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof OcipushError, String(err));
    assert.equal(err.code, 'EIO');
    assert.match(err.message, /^cannot write to layout .*\/lib: no space left on device$/);
    const session = await layout.session();
    assert.deepEqual(readdirSync(session.dir), ['owner'], 'the temp file is removed');
  });

  it('copy to an archive on a full disk: one line naming the file and ENOSPC, no partial file', (t) => {
    if (!mounted) return t.skip('cannot mount a tmpfs here (needs root)');
    for (const [transport, source] of [['oci-archive', `oci:${image.layout}:big`], ['docker-archive', `${registry.host}/disk/big:1`]]) {
      const out = join(full, `${transport}.tar`);
      const r = runCli(['copy', source!, `${transport}:${out}`, '-q', '--json']);
      assert.equal(r.status, 1, r.stderr);
      assert.equal(r.stderr, `ocipush: cannot write ${out}: no space left on device\n`);
      assert.deepEqual(JSON.parse(r.stdout), { error: { code: 'EIO', message: `cannot write ${out}: no space left on device` } });
      assert.deepEqual(readdirSync(full).filter((n) => n.includes(transport)), [], 'no archive, no temp file');
    }
  });

  it('a copy whose archive fills the disk closes the source\'s blob files (not left to garbage collection, which Node 24 warns of on stderr)', async (t) => {
    if (!mounted) return t.skip('cannot mount a tmpfs here (needs root)');
    const openInLayout = () => readdirSync('/proc/self/fd').map((fd) => { try { return readlinkSync(`/proc/self/fd/${fd}`); } catch { return ''; } })
      .filter((target) => target.startsWith(image.layout));
    const source = await OciLayout.open(image.layout);
    t.after(() => source.close());
    for (const format of ['oci-archive', 'docker-archive'] as const) {
      const writer = await ArchiveWriter.create(join(full, `leak-${format}.tar`), format);
      const err = await copyGraph(source, writer, image.manifest).then(() => undefined, (e: unknown) => e);
      await writer.abort();
      assert.match(String(err), /no space left on device/);
      // Closing a file is asynchronous: waited for, up to a bound far above any close (a file left
      // open stays open until garbage collection).
      for (let waited = 0; openInLayout().length > 0 && waited < 5000; waited += 20) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(openInLayout(), [], `${format}: no file of the source layout is still open`);
    }
  });

  it('rootfs -o onto a full disk blames the disk, not the layer it was reading', (t) => {
    if (!mounted) return t.skip('cannot mount a tmpfs here (needs root)');
    const out = join(full, 'rootfs.tar');
    const r = runCli(['rootfs', `oci:${image.layout}:big`, '-o', out]);
    assertOneLineError(r, new RegExp(`^ocipush: cannot write ${out.replace(/[/.]/g, '\\$&')}: no space left on device$`));
    assert.deepEqual(readdirSync(full).filter((n) => n.includes('rootfs')), [], 'no tar, no temp file');
  });

  it('export and rootfs with stdout redirected onto a full disk: one line, exit 1, no stack trace', (t) => {
    if (!mounted) return t.skip('cannot mount a tmpfs here (needs root)');
    for (const args of [['export', '--layout', image.layout], ['rootfs', `oci:${image.layout}:big`]]) {
      const file = join(full, `${args[0]}-stdout.tar`);
      const fd = openSync(file, 'w');
      const r = spawnSync(process.execPath, [CLI, ...args, '-q'], { stdio: ['ignore', fd, 'pipe'], encoding: 'utf8' });
      closeSync(fd);
      rmSync(file);
      assert.equal(r.status, 1, r.stderr);
      assert.equal(r.stderr, 'ocipush: cannot write to stdout: no space left on device\n');
    }
  });

  it('sbom -o onto a full disk keeps the previous file, whole', (t) => {
    if (!mounted) return t.skip('cannot mount a tmpfs here (needs root)');
    const out = join(full, 'sbom.json');
    writeFileSync(out, '{"previous":true}\n');
    const filler = join(full, 'filler');
    try { writeFileSync(filler, Buffer.alloc(4 << 20)); } catch { /* ENOSPC: the disk is full now */ }
    t.after(() => rmSync(filler, { force: true }));
    const r = runCli(['sbom', `oci:${image.layout}:big`, '-o', out]);
    assertOneLineError(r, new RegExp(`^ocipush: cannot write ${out.replace(/[/.]/g, '\\$&')}: no space left on device$`));
    assert.equal(readFileSync(out, 'utf8'), '{"previous":true}\n');
    assert.deepEqual(readdirSync(full).filter((n) => n.includes('sbom.json')), ['sbom.json'], 'no temp file');
  });

  it('a read-only file system is reported as such, not as a missing file', (t) => {
    if (!mounted) return t.skip('cannot mount a tmpfs here (needs root)');
    const dir = join(readOnly, 'pulled');
    const r = runCli(['pull', `${registry.host}/disk/big:1`, '--layout', dir, '-q']);
    assertOneLineError(r, /read-only file system$/);
    assert.doesNotMatch(r.stderr, /no such file/);
    assert.ok(r.stderr.includes(readOnly), r.stderr);
  });

  it('a build into a read-only file system is reported as such', async (t) => {
    if (!mounted) return t.skip('cannot mount a tmpfs here (needs root)');
    const rootfs = join(tmp.path, 'rootfs');
    mkdirSync(rootfs, { recursive: true });
    writeFileSync(join(rootfs, 'hello'), 'hello\n');
    const r = runCli(['build', rootfs, '--layout', join(readOnly, 'built'), '-q']);
    assertOneLineError(r, /read-only file system$/);
  });
});

/**
 * A layout the user may not write (here made immutable with chattr, which stops root too; a
 * user without permission meets EACCES the same way): the failed write is EIO, as a full or
 * read-only disk is, never EREAD (a failed read), and the layout is left as it was.
 */
describe('a layout whose directories refuse writes', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  const locked: string[] = [];
  const chattr = (flag: string, path: string): boolean => spawnSync('chattr', [flag, path], { stdio: 'pipe' }).status === 0;

  before(async () => {
    tmp = await tempDir();
  });
  after(async () => {
    for (const path of locked) chattr('-i', path);
    await tmp?.cleanup();
  });

  it('build --json: the blob store and the index lock answer EIO with one line naming the path', (t) => {
    const rootfs = join(tmp.path, 'rootfs');
    mkdirSync(rootfs);
    writeFileSync(join(rootfs, 'hello'), 'hello\n');
    const layout = join(tmp.path, 'layout');
    assertOk(runCli(['build', rootfs, '--layout', layout, '--tag', 'one', '-q']));
    writeFileSync(join(rootfs, 'hello'), 'changed\n');
    const blobs = join(layout, 'blobs', 'sha256');
    if (!chattr('+i', blobs)) return t.skip('chattr +i is not supported on this file system');
    locked.push(blobs);
    const before = readdirSync(blobs).sort();
    let r = runCli(['build', rootfs, '--layout', layout, '--tag', 'two', '--json', '-q']);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /^ocipush: cannot store blob .*: permission denied\n$/);
    assert.equal((JSON.parse(r.stdout) as { error: { code: string } }).error.code, 'EIO');
    assert.deepEqual(readdirSync(blobs).sort(), before);
    chattr('-i', blobs);
    assert.ok(chattr('+i', layout));
    locked.push(layout);
    r = runCli(['build', rootfs, '--layout', layout, '--tag', 'two', '--json', '-q']);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /^ocipush: cannot lock .*index\.json\.lock: permission denied\n$/);
    assert.equal((JSON.parse(r.stdout) as { error: { code: string } }).error.code, 'EIO');
  });
});

/**
 * gc is what a user runs when the layout has filled the disk: it must take the index lock with no
 * byte free. A tmpfs full to its last page still makes a directory and an empty file, so the lock
 * names its owner in a file name there (umoci gc, which takes no lock, runs there too).
 */
describe('gc on a disk full to its last page', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let disk: string;
  let mounted = false;

  before(async () => {
    tmp = await tempDir();
    disk = join(tmp.path, 'disk');
    mounted = mountTmpfs(disk, 'size=1m');
  });
  after(async () => {
    unmount(disk);
    await tmp?.cleanup();
  });

  it('removes what no image reaches, and its lock names its owner as a written one does', async (t) => {
    if (!mounted) return t.skip('cannot mount a tmpfs here (needs root)');
    const layout = join(disk, 'layout');
    for (const name of ['old', 'kept']) {
      const rootfs = join(tmp.path, `rootfs-${name}`);
      mkdirSync(rootfs);
      writeFileSync(join(rootfs, 'data'), randomBytes(name === 'old' ? 200_000 : 1000));
      assertOk(runCli(['build', rootfs, '--layout', layout, '--tag', name, '-q']));
    }
    assertOk(runCli(['delete', `oci:${layout}:old`, '-q']));
    const blobs = readdirSync(join(layout, 'blobs', 'sha256')).length;
    const fill = openSync(join(disk, 'fill'), 'w');
    try {
      for (;;) writeSync(fill, Buffer.alloc(4096));
    } catch (err) {
      assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
    } finally {
      closeSync(fill);
    }
    const lockPath = join(layout, '.index.json.lock');
    await withLock(lockPath, async () => {
      const judged = await judge(lockPath);
      assert.equal(judged?.owner?.pid, process.pid, 'judged by its PID, not by the age of its directory');
    });
    // --prune=now: the deleted image was built a moment ago (a full disk is when a user says so).
    const r = runCli(['gc', '--layout', layout, '--prune=now']);
    assertOk(r);
    assert.match(r.stdout, /^removed 3 blobs \(/m);
    assert.equal(readdirSync(join(layout, 'blobs', 'sha256')).length, blobs - 3);
    assert.deepEqual(readdirSync(layout).filter((n) => n.includes('lock')), [], 'no lock left');
    requireTool('skopeo');
    JSON.parse(run('skopeo', ['inspect', '--raw', `oci:${layout}:kept`]));
  });

  it('drops the SBOM entry of an image umoci rm un-named, which means rewriting index.json with no byte free: what nothing reaches goes first, to make room', async (t) => {
    if (!mounted) return t.skip('cannot mount a tmpfs here (needs root)');
    requireTool('umoci');
    for (const name of readdirSync(disk)) rmSync(join(disk, name), { recursive: true, force: true });
    const layout = join(disk, 'layout');
    for (const [name, size, sbom] of [['stray', 200_000, false], ['old', 1000, true], ['kept', 1000, false]] as const) {
      const rootfs = join(tmp.path, `rootfs-2-${name}`);
      mkdirSync(rootfs);
      writeFileSync(join(rootfs, 'data'), randomBytes(size));
      assertOk(runCli(['build', rootfs, '--layout', layout, '--tag', name, '--no-cache', '-q', ...(sbom ? ['--sbom'] : [])]));
    }
    assertOk(runCli(['delete', `oci:${layout}:stray`, '-q']));
    run('umoci', ['rm', '--image', `${layout}:old`]);
    rmSync(join(layout, '.ocipush-cache'), { recursive: true, force: true });
    const fill = openSync(join(disk, 'fill'), 'w');
    try {
      for (;;) writeSync(fill, Buffer.alloc(4096));
    } catch (err) {
      assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
    } finally {
      closeSync(fill);
    }
    const r = runCli(['gc', '--layout', layout, '--prune=now']);
    assertOk(r);
    assert.match(r.stdout, /^dropped 1 index\.json entry; removed 9 blobs \(/m);
    assert.equal(run('umoci', ['ls', '--layout', layout]).trim(), 'kept');
    assert.equal(readdirSync(join(layout, 'blobs', 'sha256')).length, 3);
    JSON.parse(run('skopeo', ['inspect', '--raw', `oci:${layout}:kept`]));
  });
});
