import assert from 'node:assert/strict';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { copy, pull } from '../../src/index.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { requireTool, run, tempDir } from '../support/tools.js';
import { assertOk, assertOneLineError, runCliAsync } from './registry-support.js';
import { envWith, skopeoFails, skopeoRaw } from './copy-support.js';

let tmp: { path: string; cleanup: () => Promise<void> };
let registry: RunningRegistry;
let mirror: RunningRegistry;
let source: string;
let entries: Map<string, string>;
const env = envWith();

interface Index { manifests: { digest: string; platform: { os: string; architecture: string } }[]; annotations?: Record<string, string> }

/** A three-platform index ocipush built, annotated, in a registry: what a mirror copies from. */
before(async () => {
  requireTool('skopeo');
  tmp = await tempDir();
  [registry, mirror] = await Promise.all([startRegistry(), startRegistry()]);
  const layout = join(tmp.path, 'layout');
  for (const arch of ['amd64', 'arm64', 's390x']) {
    const dir = join(tmp.path, arch);
    mkdirSync(join(dir, 'etc'), { recursive: true });
    writeFileSync(join(dir, 'etc', 'arch'), `${arch}\n`);
    assertOk(await runCliAsync(['build', dir, '--layout', layout, '--tag', arch, '--platform', `linux/${arch}`], { env }));
  }
  assertOk(await runCliAsync(['index', 'create', 'amd64', 'arm64', 's390x', '--tag', 'all', '--layout', layout, '--annotation', 'org.opencontainers.image.version=1'], { env }));
  source = `${registry.host}/up/base:1`;
  assertOk(await runCliAsync(['push', source, '--layout', layout, '--tag', 'all'], { env }));
  const index = JSON.parse((await skopeoRaw(source)).bytes.toString()) as Index;
  entries = new Map(index.manifests.map((m) => [m.platform.architecture, m.digest]));
});
after(async () => {
  await Promise.all([registry?.stop(), mirror?.stop()]);
  await tmp?.cleanup();
});

describe('copy --platform with several platforms', () => {
  it('mirrors an index with only those platforms: their manifests as they were, the index annotations kept', async () => {
    const target = `${mirror.host}/mirror/base:1`;
    const r = await runCliAsync(['copy', source, target, '--platform', 'linux/amd64,linux/arm64', '--json'], { env });
    assertOk(r);
    const copied = JSON.parse(r.stdout) as { digest: string; blobs: { kind: string }[] };
    const pushed = await skopeoRaw(target);
    assert.equal(pushed.digest, copied.digest);
    const index = JSON.parse(pushed.bytes.toString()) as Index;
    assert.deepEqual(index.manifests.map((m) => [m.platform.architecture, m.digest]), [['amd64', entries.get('amd64')], ['arm64', entries.get('arm64')]]);
    assert.deepEqual(index.annotations, { 'org.opencontainers.image.version': '1' });
    assert.equal(copied.blobs.filter((b) => b.kind === 'layer').length, 2, 'the s390x layer is not copied');
    assert.ok(await skopeoFails(`${mirror.host}/mirror/base@${entries.get('s390x')}`), 'nor its manifest');
    run('skopeo', ['copy', '--src-tls-verify=false', '--override-arch', 'arm64', `docker://${target}`, `oci:${join(tmp.path, 'arm')}:x`]);
    assertOk(await runCliAsync(['validate', target], { env }));
  });

  it('keeps an index that holds only those platforms byte for byte, and mounts within one registry', async () => {
    const same = await runCliAsync(['copy', source, `${registry.host}/copy/all:1`, '--platform', 'linux/s390x,linux/arm64,linux/amd64', '--json'], { env });
    assertOk(same);
    assert.equal((JSON.parse(same.stdout) as { digest: string }).digest, (await skopeoRaw(source)).digest);
    const two = await runCliAsync(['copy', source, `${registry.host}/copy/two:1`, '--platform', 'linux/amd64,linux/s390x', '--json'], { env });
    assertOk(two);
    const blobs = (JSON.parse(two.stdout) as { blobs: { kind: string; outcome: string }[] }).blobs;
    assert.ok(blobs.filter((b) => b.kind === 'layer').every((b) => b.outcome === 'mounted'), JSON.stringify(blobs));
  });

  it('refuses a platform the index lacks, and a single image of another platform, with one line', async () => {
    assertOneLineError(await runCliAsync(['copy', source, `${mirror.host}/mirror/none:1`, '--platform', 'linux/amd64,linux/ppc64le'], { env }),
      /has no image for linux\/ppc64le \(it has: linux\/amd64, linux\/arm64, linux\/s390x\)/);
    assert.ok(await skopeoFails(`${mirror.host}/mirror/none:1`));
    const single = `${registry.host}/up/base@${entries.get('arm64')}`;
    assertOneLineError(await runCliAsync(['copy', single, `${mirror.host}/mirror/one:1`, '--platform', 'linux/amd64,linux/s390x'], { env }),
      /is one image for linux\/arm64, not for linux\/amd64, linux\/s390x/);
    assertOk(await runCliAsync(['copy', single, `${mirror.host}/mirror/one:1`, '--platform', 'linux/amd64,linux/arm64'], { env }));
    assert.equal((await skopeoRaw(`${mirror.host}/mirror/one:1`)).digest, entries.get('arm64'));
  });

  it('one --platform of a single image of another platform: copy, pull, push and the library refuse it with one line, as with several; nothing is written', async () => {
    const single = `${registry.host}/up/base@${entries.get('arm64')}`;
    const refused = /is one image for linux\/arm64, not for linux\/amd64 \(--platform\)$/;
    assertOneLineError(await runCliAsync(['copy', single, `${mirror.host}/mirror/wrong:1`, '--platform', 'linux/amd64'], { env }), refused);
    assert.ok(await skopeoFails(`${mirror.host}/mirror/wrong:1`), 'nothing under the tag');
    const layout = join(tmp.path, 'wrong');
    assertOneLineError(await runCliAsync(['pull', single, '--layout', layout, '--tag', 'x', '--platform', 'linux/amd64'], { env }), refused);
    assert.ok(!existsSync(join(layout, 'index.json')), 'no layout written');
    await assert.rejects(copy({ from: single, to: `${mirror.host}/mirror/wrong:2`, platform: 'linux/amd64' }), /is one image for linux\/arm64, not for linux\/amd64 \(`platform`\)$/);
    assertOk(await runCliAsync(['pull', single, '--layout', layout, '--tag', 'arm'], { env }));
    assertOneLineError(await runCliAsync(['push', `${mirror.host}/mirror/wrong:3`, '--layout', layout, '--tag', 'arm', '--platform', 'linux/amd64'], { env }), refused);
    assert.ok(await skopeoFails(`${mirror.host}/mirror/wrong:3`));
    // Its own platform is copied, as skopeo --override-arch copies it.
    assertOk(await runCliAsync(['copy', single, `${mirror.host}/mirror/right:1`, '--platform', 'linux/arm64'], { env }));
    assert.equal((await skopeoRaw(`${mirror.host}/mirror/right:1`)).digest, entries.get('arm64'));
  });

  it('an index whose source lacks a platform (what docker save writes of a multi-platform image) names that platform and --platform; the platforms there copy', async () => {
    // The index whole, one platform's manifest left out: docker save (Docker 25+) keeps only the platforms pulled.
    const layout = join(tmp.path, 'saved');
    assertOk(await runCliAsync(['pull', source, `oci:${layout}:all`], { env }));
    rmSync(join(layout, 'blobs', 'sha256', entries.get('arm64')!.slice('sha256:'.length)));
    const r = await runCliAsync(['copy', `oci:${layout}:all`, `${mirror.host}/saved/base:1`], { env });
    assertOneLineError(r, new RegExp(`blob ${entries.get('arm64')} is missing.*: the index names it for linux/arm64, which the source does not hold \\(docker save keeps only the platforms it pulled\\); copy the platforms it has with --platform$`));
    assertOk(await runCliAsync(['copy', `oci:${layout}:all`, `${mirror.host}/saved/base:1`, '--platform', 'linux/amd64,linux/s390x'], { env }));
    const copied = JSON.parse((await skopeoRaw(`${mirror.host}/saved/base:1`)).bytes.toString()) as Index;
    assert.deepEqual(copied.manifests.map((m) => m.digest), [entries.get('amd64'), entries.get('s390x')]);
  });

  it('an index in a registry whose child manifest was deleted: copy and pull end in one line naming it before any blob moves, and write nothing', async () => {
    const broken = `${registry.host}/up/broken:1`;
    assertOk(await runCliAsync(['copy', source, broken], { env }));
    const deleted = await fetch(`http://${registry.host}/v2/up/broken/manifests/${entries.get('s390x')}`, { method: 'DELETE' });
    assert.equal(deleted.status, 202);
    const missing = new RegExp(`up/broken@${entries.get('s390x')}: manifest not found: the index names it for linux/s390x, which the source does not hold \\(deleted under its index, or the index pushed without it\\); copy the platforms it has with --platform$`);
    for (const args of [['copy', broken, `oci:${join(tmp.path, 'broken-copy')}:x`], ['pull', broken, '--layout', join(tmp.path, 'broken-pull')]]) {
      assertOneLineError(await runCliAsync(args, { env }), missing);
      assert.ok(!existsSync(join(tmp.path, `broken-${args[0]}`)), `${args[0]} leaves no layout`);
    }
    assertOneLineError(await runCliAsync(['copy', broken, `${mirror.host}/broken/copy:1`], { env }), missing);
    const catalog = await (await fetch(`http://${mirror.host}/v2/_catalog`)).json() as { repositories: string[] };
    assert.ok(!catalog.repositories.includes('broken/copy'), 'no blob went to the destination registry');
    assertOk(await runCliAsync(['copy', broken, `oci:${join(tmp.path, 'broken-copy')}:x`, '--platform', 'linux/amd64,linux/arm64'], { env }));
  });

  it('an index in a registry that lost a layer of one platform: copy and pull into a layout end with the 404 as their last line, not a crash, and leave no layout', async () => {
    const lost = `${registry.host}/up/lost:1`;
    assertOk(await runCliAsync(['copy', source, lost], { env }));
    const manifest = JSON.parse((await skopeoRaw(`${registry.host}/up/lost@${entries.get('s390x')}`)).bytes.toString()) as { layers: { digest: string }[] };
    const layer = manifest.layers[0]!.digest;
    assert.equal((await fetch(`http://${registry.host}/v2/up/lost/blobs/${layer}`, { method: 'DELETE' })).status, 202);
    for (const args of [['copy', lost, `oci:${join(tmp.path, 'lost-copy')}:x`], ['pull', lost, '--layout', join(tmp.path, 'lost-pull')]]) {
      const r = await runCliAsync(args, { env });
      assert.equal(r.status, 1, r.stderr);
      // The blobs fetched for the other platforms are let go when the copy fails: none may end the process.
      assert.doesNotMatch(r.stderr, /Unhandled|node:events/);
      assert.match(r.stderr.trimEnd().split('\n').at(-1)!, new RegExp(`^ocipush: .*fetch blob ${layer}: 404 BLOB_UNKNOWN`));
      assert.ok(!existsSync(join(tmp.path, `lost-${args[0]}`)), `${args[0]} leaves no layout`);
    }
  });

  it('pull --platform A,B writes the same narrowed index into a layout, without the other platform\'s blobs', async () => {
    const layout = join(tmp.path, 'pulled');
    const r = await runCliAsync(['pull', source, '--layout', layout, '--tag', 'two', '--platform', 'linux/amd64,linux/arm64', '--json'], { env });
    assertOk(r);
    const copied = await runCliAsync(['copy', source, `${mirror.host}/mirror/same:1`, '--platform', 'linux/amd64,linux/arm64', '--json'], { env });
    assertOk(copied);
    assert.equal((JSON.parse(r.stdout) as { digest: string }).digest, (JSON.parse(copied.stdout) as { digest: string }).digest, 'pull and copy narrow an index alike');
    const index = JSON.parse(run('skopeo', ['inspect', '--raw', `oci:${layout}:two`])) as Index;
    assert.deepEqual(index.manifests.map((m) => m.platform.architecture), ['amd64', 'arm64']);
    assert.ok(!existsSync(join(layout, 'blobs', 'sha256', entries.get('s390x')!.slice(7))), 'the s390x manifest was not pulled');
    assertOk(await runCliAsync(['validate', `oci:${layout}:two`], { env }));
  });

  it('the library\'s copy and pull take several platforms too, and make the index the CLI makes', async () => {
    const cli = JSON.parse((await runCliAsync(['copy', source, `${mirror.host}/lib/cli:1`, '--platform', 'linux/arm64,linux/s390x', '--json'], { env })).stdout) as { digest: string };
    const copied = await copy({ from: source, to: `${mirror.host}/lib/copy:1`, platform: 'linux/arm64,linux/s390x' });
    assert.equal(copied.digest, cli.digest);
    const index = JSON.parse((await skopeoRaw(`${mirror.host}/lib/copy:1`)).bytes.toString()) as Index;
    assert.deepEqual(index.manifests.map((m) => m.digest), [entries.get('arm64'), entries.get('s390x')]);
    const pulled = await pull({ from: source, layout: join(tmp.path, 'lib-pull'), tag: 'two', platform: 'linux/arm64,linux/s390x' });
    assert.equal(pulled.digest, cli.digest);
    requireTool('umoci');
    assert.equal(run('umoci', ['ls', '--layout', join(tmp.path, 'lib-pull')]).trim(), 'two');
    assert.equal((await skopeoRaw(`${mirror.host}/lib/copy@${entries.get('amd64')}`).catch(() => undefined)), undefined, 'the amd64 image stays behind');
  });

  it('a platform typed as uname -m or in capitals (linux/aarch64, Linux/X86_64) finds the image docker would pick', async () => {
    const digest = await runCliAsync(['digest', source, '--platform', 'Linux/AArch64'], { env });
    assertOk(digest);
    assert.equal(digest.stdout.trim(), entries.get('arm64'));
    const target = `${mirror.host}/alias/base:1`;
    assertOk(await runCliAsync(['copy', source, target, '--platform', 'linux/x86_64,linux/aarch64'], { env }));
    const index = JSON.parse((await skopeoRaw(target)).bytes.toString()) as Index;
    assert.deepEqual(index.manifests.map((m) => [m.platform.architecture, m.digest]), [['amd64', entries.get('amd64')], ['arm64', entries.get('arm64')]]);
    const inspected = await runCliAsync(['inspect', source, '--platform', 'linux/aarch64', '--json'], { env });
    assertOk(inspected);
    assert.equal((JSON.parse(inspected.stdout) as { digest: string }).digest, entries.get('arm64'));
  });
});

describe('--platform all, as crane takes it', () => {
  it('copy, pull and mutate take every platform, as without --platform; one of several, or where one image is read, is one line, exit 2', async () => {
    const index = await skopeoRaw(source);
    assertOk(await runCliAsync(['copy', source, `${mirror.host}/mirror/all:1`, '--platform', 'all'], { env }));
    assert.equal((await skopeoRaw(`${mirror.host}/mirror/all:1`)).digest, index.digest);
    const layout = join(tmp.path, 'all-pulled');
    assertOk(await runCliAsync(['pull', source, '--layout', layout, '--tag', 'x', '--platform', 'ALL'], { env }));
    assert.equal(run('skopeo', ['inspect', '--raw', `oci:${layout}:x`]), index.bytes.toString());
    assertOk(await runCliAsync(['mutate', source, `${mirror.host}/mirror/all:2`, '--label', 'k=v', '--platform', 'all'], { env }));
    assertOk(await runCliAsync(['mutate', source, `${mirror.host}/mirror/all:3`, '--label', 'k=v'], { env }));
    assert.equal((await skopeoRaw(`${mirror.host}/mirror/all:2`)).digest, (await skopeoRaw(`${mirror.host}/mirror/all:3`)).digest);
    assertOneLineError(await runCliAsync(['copy', source, `${mirror.host}/mirror/all:4`, '--platform', 'linux/amd64,all'], { env }), /^ocipush: --platform "linux\/amd64,all": all is every platform, given alone$/, 2);
    assert.ok(await skopeoFails(`${mirror.host}/mirror/all:4`));
    for (const args of [['digest', source], ['config', source], ['rootfs', source, '-o', join(tmp.path, 'all.tar')]]) {
      assertOneLineError(await runCliAsync([...args, '--platform', 'all'], { env }), /^ocipush: --platform all \(every platform, as crane takes it\): one os\/arch\[\/variant\] here/, 2);
    }
    assert.ok(!existsSync(join(tmp.path, 'all.tar')));
  });
});
