import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { PassThrough, Readable } from 'node:stream';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { it, type TestContext } from 'node:test';
import { OciLayout } from '../../src/content/layout.js';
import { Annotation } from '../../src/oci/descriptor.js';
import { sha256 } from '../../src/oci/digest.js';
import { CLI, tempDir } from '../support/tools.js';
import { runCliAsync } from '../cli/registry-support.js';
import { validateLayout } from '../assemble/support.js';

/** A temporary directory (removed after the test) holding `rootfs/hello`. */
async function helloRootfs(t: TestContext): Promise<{ tmp: { path: string }; rootfs: string }> {
  const tmp = await tempDir();
  t.after(tmp.cleanup);
  const rootfs = join(tmp.path, 'rootfs');
  mkdirSync(rootfs);
  writeFileSync(join(rootfs, 'hello'), 'hello\n');
  return { tmp, rootfs };
}

it('builds started at once into a layout that does not exist yet all succeed, and every tag is kept (6 rounds of 4)', async (t) => {
  const { tmp, rootfs } = await helloRootfs(t);
  for (let round = 0; round < 6; round++) {
    const dir = join(tmp.path, `new-${round}`, 'layout');
    const tags = ['a', 'b', 'c', 'd'];
    const results = await Promise.all(tags.map((tag) => runCliAsync(['build', rootfs, '--layout', dir, '--tag', tag, '-q'])));
    for (const r of results) assert.equal(r.status, 0, `round ${round}: ${r.stderr}`);
    const layout = await OciLayout.open(dir);
    const names = (await layout.readIndex()).manifests.map((d) => d.annotations?.[Annotation.RefName]).sort();
    assert.deepEqual(names, tags, `round ${round}`);
    assert.deepEqual(readdirSync(dir).filter((n) => n !== '.ocipush-cache').sort(), ['blobs', 'index.json', 'oci-layout'], `round ${round}: nothing in progress left`);
  }
  validateLayout(join(tmp.path, 'new-0', 'layout'));
});

// Node's recursive mkdir never returns where a parent answers ENOENT for any child (/proc): a
// C++ loop at 100 % CPU. The child is killed after a minute, so that hang fails the test.
it('a layout that cannot be made (under /proc, under a file) is one line and exit 1, not a hang', async (t) => {
  const { rootfs } = await helloRootfs(t);
  const build = (layout: string) => spawnSync(process.execPath, [CLI, 'build', rootfs, '--layout', layout], { encoding: 'utf8', timeout: 60_000 });
  const underProc = build(`/proc/self/ocipush-${process.pid}/layout`);
  assert.equal(underProc.status, 1, underProc.stderr);
  assert.match(underProc.stderr, /^ocipush: cannot create .*\/proc\/self\/ocipush-\d+\/layout.*: no such file or directory\n$/);
  const underFile = build(join(rootfs, 'hello', 'layout'));
  assert.equal(underFile.status, 1, underFile.stderr);
  assert.match(underFile.stderr, /^ocipush: .*hello.*: not a directory\n$/);
});

// A pull whose image fails half way discards the layout it made while its other transfers still
// run; the one that reaches the layout after that (its download was slower) must not make it again.
it('a write that comes after discardIfCreated is refused and leaves no layout behind', async (t) => {
  const tmp = await tempDir();
  t.after(tmp.cleanup);
  const dir = join(tmp.path, 'pulled');
  const layout = await OciLayout.open(dir, { create: true });
  const blob = (text: string) => ({ bytes: Buffer.from(text), desc: { digest: sha256(Buffer.from(text)), size: Buffer.byteLength(text) } });
  const early = blob('written while the layout is discarded\n');
  const late = blob('arrives after the discard\n');
  const stream = new PassThrough();
  const inFlight = layout.push(early.desc, stream);
  stream.write(early.bytes.subarray(0, 5));
  await once(stream, 'resume');
  await layout.discardIfCreated();
  stream.end(early.bytes.subarray(5));
  await assert.rejects(inFlight);
  await assert.rejects(layout.push(late.desc, Readable.from([late.bytes])), /discarded after a failure/);
  assert.equal(existsSync(dir), false, existsSync(dir) ? readdirSync(dir, { recursive: true }).join(', ') : '');
});

// The CLI removes a layout it made if Ctrl-C comes while it is empty. A library that made one,
// left it empty on purpose and closed it, keeps it through a later signal.
it('a layout made and closed by a library process survives a later SIGINT; one still open and empty is removed', async (t) => {
  const tmp = await tempDir();
  t.after(tmp.cleanup);
  const [closed, open] = [join(tmp.path, 'closed'), join(tmp.path, 'open')];
  const layoutModule = new URL('../../src/content/layout.js', import.meta.url).href;
  const cleanupModule = new URL('../../src/content/cleanup.js', import.meta.url).href;
  const script = `
    const { OciLayout } = await import(${JSON.stringify(layoutModule)});
    const { installSignalCleanup } = await import(${JSON.stringify(cleanupModule)});
    installSignalCleanup();
    const kept = await OciLayout.open(${JSON.stringify(closed)}, { create: true });
    await kept.close();
    await OciLayout.open(${JSON.stringify(open)}, { create: true });
    process.stdout.write('ready\\n');
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await once(child.stdout!, 'data');
  child.kill('SIGINT');
  const [code] = await once(child, 'exit');
  assert.equal(code, 130);
  assert.deepEqual(readdirSync(closed).sort(), ['blobs', 'index.json', 'oci-layout']);
  assert.equal(existsSync(open), false, 'the layout still open when the signal came is removed');
});
