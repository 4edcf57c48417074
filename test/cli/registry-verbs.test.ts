import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sha256 } from '../../src/oci/digest.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { startPagingProxy, type PagingProxy } from '../support/paging-proxy.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { run, tempDir } from '../support/tools.js';
import { blobWrites, MiB, multiPlatformImage, umociImage, uploadStarts, type MultiPlatformImage, type UmociImage } from '../registry/support.js';
import { assertOk, assertOneLineError, runCliAsync } from './registry-support.js';
import { envWith, PASSWORD, skopeoFails, skopeoRaw, startTwoRegistries, type TwoRegistries } from './copy-support.js';
import { skopeoDigest, skopeoLayoutCopy, skopeoSchema1 } from './skopeo-support.js';

let tmp: { path: string; cleanup: () => Promise<void> };
let image: UmociImage;
let multi: MultiPlatformImage;
let regs: TwoRegistries;
let paging: PagingProxy;
let env: NodeJS.ProcessEnv;
const creds = ['--creds', `alice:${PASSWORD}`];
const TAGS = ['1', '1.0', '1.0.1', 'latest', 'stable', 'beta', 'rc'];

before(async () => {
  tmp = await tempDir();
  image = umociImage(tmp.path, 'v1', [MiB]);
  multi = await multiPlatformImage(join(tmp.path, 'multi'), 'multi');
  regs = await startTwoRegistries(tmp.path);
  env = envWith(regs.dockerConfig);
  paging = await startPagingProxy({ target: regs.staging.url, maxPage: 2 });
  assertOk(await runCliAsync(['push', `${regs.staging.host}/team/app:0`, '--layout', image.layout], { env }));
  assertOk(await runCliAsync(['push', `${regs.staging.host}/team/multi:1`, '--layout', join(tmp.path, 'multi'), '--tag', 'multi'], { env }));
});
after(async () => {
  await paging?.stop();
  await regs?.stop();
  await tmp?.cleanup();
});

describe('tag', () => {
  it('adds tags with a manifest GET and one PUT per tag, no blob upload', async () => {
    await regs.staging.forgetAccessLog();
    const r = await runCliAsync(['tag', `${regs.staging.host}/team/app:0`, ...TAGS], { env });
    assertOk(r);
    assert.equal(r.stdout.trim(), image.manifest.digest);
    const log = (await regs.staging.settledAccessLog()).filter((e) => e.status !== 401);
    assert.deepEqual(uploadStarts(log), []);
    assert.deepEqual(blobWrites(log), []);
    assert.equal(log.filter((e) => e.method === 'GET' && e.path.includes('/manifests/')).length, 1);
    assert.deepEqual(log.filter((e) => e.method === 'PUT').map((e) => e.path.split('/').pop()), TAGS);
    for (const t of ['1.0.1', 'rc']) assert.equal((await skopeoRaw(`${regs.staging.host}/team/app:${t}`, creds)).digest, image.manifest.digest);
  });

  it('refuses a bad tag before any request', async () => {
    assertOneLineError(await runCliAsync(['tag', `${regs.staging.host}/team/app:0`, 'no/slash'], { env }), /"no\/slash": not a valid tag/, 2);
  });

  it('takes a full reference of the same repository, as docker tag does; another repository is a copy, said so', async () => {
    // An index (the multi-platform image) is tagged the same way.
    const repo = `${regs.staging.host}/team/multi`;
    assertOk(await runCliAsync(['tag', `${repo}:1`, `${repo}:full`, `docker://${repo}:full2`], { env }));
    for (const t of ['full', 'full2']) assert.equal((await skopeoRaw(`${repo}:${t}`, creds)).digest, multi.index.digest);
    await regs.staging.forgetAccessLog();
    const other = `${regs.staging.host}/team/other:1`;
    assertOneLineError(await runCliAsync(['tag', `${repo}:1`, other], { env }),
      new RegExp(`^ocipush: "${other}": tag names more tags in 127\\.0\\.0\\.1:\\d+/team/multi; to put the image in another repository: ocipush copy 127\\.0\\.0\\.1:\\d+/team/multi:1 ${other} \\(its blobs mounted`), 2);
    assert.deepEqual((await regs.staging.settledAccessLog()).filter((e) => e.path.includes('/team/')), [], 'no request for a refused tag');
    // `a/one:multi` (Docker Hub's, by docker's reading) beside an image in this registry: the copy
    // named is into this registry, where it mounts; it suggested a copy to Docker Hub. (a/one: a
    // repository the catalog test below makes too.)
    const suggested = await runCliAsync(['tag', `${repo}:1`, 'a/one:multi'], { env });
    assertOneLineError(suggested, /to put the image in another repository: ocipush copy 127\.0\.0\.1:\d+\/team\/multi:1 127\.0\.0\.1:\d+\/a\/one:multi \(its blobs mounted, not sent again\)$/, 2);
    const command = /ocipush (copy \S+ \S+)/.exec(suggested.stderr)![1]!.split(' ');
    assertOk(await runCliAsync(command, { env }));
    assert.equal((await skopeoRaw(`${regs.staging.host}/a/one:multi`, creds)).digest, multi.index.digest);
  });
});

describe('ls and catalog follow the registry\'s pages', () => {
  it('ls lists every tag over four pages (Link, n, last), one a line, or a JSON array', async () => {
    // The proxy's host has no entry in the Docker config: the credentials come by flag.
    const withCreds = await runCliAsync(['ls', `${paging.host}/team/app`, '-u', 'alice', '--password-stdin'], { env, input: PASSWORD });
    assertOk(withCreds);
    const expected = ['0', ...TAGS].sort();
    assert.deepEqual(withCreds.stdout.trim().split('\n'), expected);
    // Distinct requests: the first is sent again after the registry's 401 challenge.
    const pages = [...new Set(paging.listRequests().filter((p) => p.includes('/team/app/')))];
    assert.ok(pages.length >= 4, pages.join(' '));
    assert.ok(pages.slice(1).every((p) => /[?&]last=/.test(p)), 'later pages carry last');

    const json = await runCliAsync(['ls', `${paging.host}/team/app`, '-u', 'alice', '--password-stdin', '--json', '--page-size', '3'], { env, input: PASSWORD });
    assertOk(json);
    assert.deepEqual(JSON.parse(json.stdout), expected);
    assert.ok(paging.listRequests().some((p) => p.includes('n=3')));
  });

  it('catalog lists every repository over pages; on the token registry too', async () => {
    for (const repo of ['a/one', 'b/two', 'c/three']) assertOk(await runCliAsync(['copy', `${regs.staging.host}/team/app:0`, `${regs.staging.host}/${repo}:1`], { env }));
    const r = await runCliAsync(['catalog', paging.host, '-u', 'alice', '--password-stdin'], { env, input: PASSWORD });
    assertOk(r);
    assert.deepEqual(r.stdout.trim().split('\n'), ['a/one', 'b/two', 'c/three', 'team/app', 'team/multi']);
    assert.ok(paging.listRequests().filter((p) => p.startsWith('/v2/_catalog')).length >= 3);

    assertOk(await runCliAsync(['copy', `${regs.staging.host}/team/app:0`, `${regs.production.host}/prod/app:1`], { env }));
    const token = await runCliAsync(['catalog', regs.production.host, '--json'], { env });
    assertOk(token);
    assert.deepEqual(JSON.parse(token.stdout), ['prod/app']);
  });

  it('a registry whose next link brings the same page again under a new URL: one line, no tag printed twice, no run of 10,000 requests', async () => {
    assertOk(await runCliAsync(['copy', `${regs.staging.host}/team/app:0`, `${regs.staging.host}/team/loop:a`], { env }));
    assertOk(await runCliAsync(['tag', `${regs.staging.host}/team/loop:a`, 'b', 'c', 'd', 'e', 'f', 'g', 'h'], { env }));
    const looping = await startPagingProxy({ target: regs.staging.url, maxPage: 3, appendToAskedUrl: true });
    try {
      const r = await runCliAsync(['ls', `${looping.host}/team/loop`, '-u', 'alice', '--password-stdin'], { env, input: PASSWORD });
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /^ocipush: 127\.0\.0\.1:\d+: list tags of team\/loop: the registry sent the same page twice \(/);
      const printed = r.stdout.trim().split('\n');
      assert.deepEqual(printed, [...new Set(printed)], 'no tag printed twice');
      assert.ok(looping.listRequests().length <= 5, looping.listRequests().join(' '));
      const mirror = await runCliAsync(['copy', '--all-tags', `${looping.host}/team/loop`, `${regs.staging.host}/team/loop-mirror`, '--src-username', 'alice', '--src-password-stdin'], { env, input: PASSWORD });
      assertOneLineError(mirror, /the registry sent the same page twice/);
    } finally {
      await looping.stop();
    }
  });

  it('ls of a repository that does not exist: one line', async () => {
    assertOneLineError(await runCliAsync(['ls', `${regs.staging.host}/no/such`], { env }), /^ocipush: 127\.0\.0\.1:\d+\/no\/such: repository not found$/);
    // A registry alone is not a repository: the line names the verb that lists it.
    assertOneLineError(await runCliAsync(['ls', regs.staging.host], { env }), /^ocipush: 127\.0\.0\.1:\d+: a registry, not a repository: ocipush catalog 127\.0\.0\.1:\d+ lists its repositories/, 2);
  });
});

describe('digest, manifest, config, blob', () => {
  it('digest by HEAD, manifest bytes as served, config bytes, --platform children', async () => {
    const ref = `${regs.staging.host}/team/app:0`;
    const d = await runCliAsync(['digest', ref], { env });
    assertOk(d);
    assert.equal(d.stdout.trim(), image.manifest.digest);
    const m = await runCliAsync(['manifest', `docker://${ref}`], { env });
    assertOk(m);
    assert.equal(sha256(Buffer.from(m.stdout)), image.manifest.digest);
    const c = await runCliAsync(['config', ref], { env });
    assertOk(c);
    assert.equal(sha256(Buffer.from(c.stdout)), image.config);
    assert.equal((await runCliAsync(['digest', `oci:${image.layout}:v1`], { env })).stdout.trim(), image.manifest.digest);

    const arm = multi.manifests.find((x) => x.platform?.architecture === 'arm64')!;
    const child = await runCliAsync(['manifest', `${regs.staging.host}/team/multi:1`, '--platform', 'linux/arm64'], { env });
    assertOk(child);
    assert.equal(sha256(Buffer.from(child.stdout)), arm.digest);
    assert.equal((await runCliAsync(['digest', `${regs.staging.host}/team/multi:1`, '--platform', 'linux/arm64'], { env })).stdout.trim(), arm.digest);
    assert.equal((await runCliAsync(['digest', `${regs.staging.host}/team/multi:1`], { env })).stdout.trim(), multi.index.digest);
    // An index's config is this machine's platform's, as config and skopeo inspect --config print it.
    const indexConfig = await runCliAsync(['inspect', `${regs.staging.host}/team/multi:1`, '--config'], { env });
    assertOk(indexConfig);
    assert.equal(indexConfig.stdout, run('skopeo', ['inspect', '--tls-verify=false', ...creds, '--config', '--raw', `docker://${regs.staging.host}/team/multi:1`]));
    assert.equal(indexConfig.stdout, (await runCliAsync(['config', `${regs.staging.host}/team/multi:1`], { env })).stdout);
  });

  it('digest, manifest, config and inspect (--raw, --config) --platform of one image of another platform: one line each, as pull --platform and oras manifest fetch --platform refuse it, never that image\'s bytes', async () => {
    const ref = `${regs.staging.host}/team/app:0`;
    const config = JSON.parse(run('skopeo', ['inspect', '--tls-verify=false', ...creds, '--config', '--raw', `docker://${ref}`])) as { os: string; architecture: string };
    const other = config.architecture === 's390x' ? 'linux/ppc64le' : 'linux/s390x';
    for (const verb of [['digest'], ['manifest'], ['config'], ['inspect', '--raw'], ['inspect', '--config'], ['inspect']]) {
      for (const where of [ref, `oci:${image.layout}:v1`]) {
        const r = await runCliAsync([...verb, where, '--platform', other], { env });
        assertOneLineError(r, new RegExp(`is one image for ${config.os}/${config.architecture}, not for ${other} \\(--platform\\)$`), 1);
      }
    }
    const own = await runCliAsync(['digest', ref, '--platform', `${config.os}/${config.architecture}`], { env });
    assertOk(own);
    assert.equal(own.stdout.trim(), image.manifest.digest);
    // Its own platform still shows it: inspect --raw prints the bytes skopeo reads.
    const raw = await runCliAsync(['inspect', '--raw', ref, '--platform', `${config.os}/${config.architecture}`], { env });
    assertOk(raw);
    assert.equal(raw.stdout, (await skopeoRaw(ref, creds)).bytes.toString());
  });

  it('inspect and pull take docker:// references as skopeo writes them', async () => {
    const ref = `docker://${regs.staging.host}/team/app:0`;
    const inspected = await runCliAsync(['inspect', ref, '--json'], { env });
    assertOk(inspected);
    assert.equal((JSON.parse(inspected.stdout) as { digest: string }).digest, image.manifest.digest);
    const pulled = await runCliAsync(['pull', ref, '--layout', join(tmp.path, 'pulled')], { env });
    assertOk(pulled);
    assert.equal(pulled.stdout.trim(), image.manifest.digest);
  });

  it('blob -o FILE streams and verifies one blob; an unknown blob is one line', async () => {
    const out = join(tmp.path, 'layer.bin');
    assertOk(await runCliAsync(['blob', `${regs.staging.host}/team/app@${image.layers[0]}`, '-o', out], { env }));
    assert.equal(sha256(readFileSync(out)), image.layers[0]);
    const config = await runCliAsync(['blob', `${regs.staging.host}/team/app@${image.config}`], { env });
    assertOk(config);
    assert.equal(sha256(Buffer.from(config.stdout)), image.config, 'to stdout when no -o');
    const missing = `sha256:${'0'.repeat(64)}`;
    assertOneLineError(await runCliAsync(['blob', `${regs.staging.host}/team/app@${missing}`, '-o', join(tmp.path, 'none')], { env }), /blob not found$/);
    // The digest digest prints (crane's, a tag's) is a manifest's, which the registry's blob endpoint does not serve:
    // 'blob not found' alone sent the user looking for a blob that never was one.
    const byDigest = `${regs.staging.host}/team/app@${image.manifest.digest}`;
    assertOneLineError(await runCliAsync(['blob', byDigest, '-o', join(tmp.path, 'none')], { env }),
      new RegExp(`@${image.manifest.digest}: blob not found: the digest is a manifest's \\(application/vnd\\.oci\\.image\\.manifest\\.v1\\+json\\), which ocipush manifest ${byDigest.replace(/\./g, '\\.')} prints$`));
    assert.ok(!existsSync(join(tmp.path, 'none')));
    const named = await runCliAsync(['manifest', byDigest], { env });
    assertOk(named);
    assert.equal(named.stdout, (await skopeoRaw(`${regs.staging.host}/team/app:0`, creds)).bytes.toString());
  });

  it('blob and sbom take -o - as stdout, as export and rootfs do: no file named "-"; an -o sbom cannot write is refused before --attach pushes', async () => {
    const cwd = join(tmp.path, 'dash');
    mkdirSync(cwd);
    const config = await runCliAsync(['blob', `${regs.staging.host}/team/app@${image.config}`, '-o', '-'], { env, cwd });
    assertOk(config);
    assert.equal(sha256(Buffer.from(config.stdout)), image.config);
    const sbom = await runCliAsync(['sbom', `${regs.staging.host}/team/app:0`, '-o', '-'], { env, cwd });
    assertOk(sbom);
    assert.equal((JSON.parse(sbom.stdout) as { spdxVersion: string }).spdxVersion, 'SPDX-2.3');
    assert.deepEqual(readdirSync(cwd), []);
    // A -o it cannot write is refused before a layer is read and before --attach pushes anything.
    const referrers = async () => (JSON.parse((await runCliAsync(['referrers', `${regs.staging.host}/team/app:0`, '--json'], { env })).stdout) as { manifests: unknown[] }).manifests;
    const before = await referrers();
    assertOneLineError(await runCliAsync(['sbom', `${regs.staging.host}/team/app:0`, '--attach', '-o', join(cwd, 'nodir', 'app.spdx.json')], { env, cwd }),
      /^ocipush: --output .*app\.spdx\.json: directory .*nodir does not exist$/, 2);
    assert.deepEqual(await referrers(), before, 'the SBOM was attached though the command failed');
    const json = await runCliAsync(['blob', `${regs.staging.host}/team/app@${image.config}`, '-o', '-', '--json'], { env, cwd });
    assert.equal(json.status, 2, json.stderr);
    assert.equal((JSON.parse(json.stdout) as { error: { code: string } }).error.code, 'EUSAGE');
    // -o /dev/stdout is stdout by another name: the blob alone, and --json refused as for -o -.
    const named = await runCliAsync(['blob', `${regs.staging.host}/team/app@${image.config}`, '-o', '/dev/stdout'], { env, cwd });
    assertOk(named);
    assert.equal(sha256(Buffer.from(named.stdout)), image.config);
    const namedJson = await runCliAsync(['blob', `${regs.staging.host}/team/app@${image.config}`, '-o', '/dev/stdout', '--json'], { env, cwd });
    assert.equal(namedJson.status, 2, namedJson.stderr);
    assert.equal((JSON.parse(namedJson.stdout) as { error: { code: string } }).error.code, 'EUSAGE');
  });
});

describe('oci:DIR:NAME with a full reference as NAME, as skopeo and podman name images in a layout', () => {
  it('inspect, digest, tag, ls and copy read the name after the first colon, as skopeo does', async () => {
    const dir = join(tmp.path, 'named');
    const name = 'example.com/team/app:1.0';
    await skopeoLayoutCopy(`oci:${image.layout}:v1`, `oci:${dir}:${name}`);
    const digest = await runCliAsync(['digest', `oci:${dir}:${name}`]);
    assertOk(digest);
    assert.equal(digest.stdout.trim(), image.manifest.digest);
    const inspected = await runCliAsync(['inspect', `oci:${dir}:${name}`, '--json']);
    assertOk(inspected);
    assert.equal((JSON.parse(inspected.stdout) as { digest: string }).digest, image.manifest.digest);
    assertOk(await runCliAsync(['tag', `oci:${dir}:${name}`, 'example.com/team/app:1.1']));
    assert.deepEqual((await runCliAsync(['ls', `oci:${dir}`])).stdout.trim().split('\n').sort(), [name, 'example.com/team/app:1.1']);
    // skopeo reads the new name where ocipush wrote it.
    assert.equal(await skopeoDigest(`oci:${dir}:example.com/team/app:1.1`), image.manifest.digest);

    // A copy into oci:DIR:REF writes the layout DIR, not a directory named after part of REF.
    const out = join(tmp.path, 'mirror');
    assertOk(await runCliAsync(['copy', `${regs.staging.host}/team/app:0`, `oci:${out}:${regs.staging.host}/team/app:0`], { env }));
    assert.ok(!existsSync(`${out}:${regs.staging.host.split(':')[0]}`), 'a layout was written under a directory named after the reference');
    assert.equal(await skopeoDigest(`oci:${out}:${regs.staging.host}/team/app:0`), image.manifest.digest);
  });
});

describe('pull-only rights on a token registry', () => {
  it('ls, inspect and digest work; tag and delete say, in one line each, that they are denied', async () => {
    regs.issuer.users.reader = { password: PASSWORD, access: () => ['pull'] };
    const ref = `${regs.production.host}/prod/readonly`;
    assertOk(await runCliAsync(['copy', `${regs.staging.host}/team/app:0`, `${ref}:1`], { env }));
    const asReader = (args: string[]) => runCliAsync([...args, '-u', 'reader', '--password-stdin'], { env: envWith(), input: PASSWORD });
    const ls = await asReader(['ls', ref]);
    assertOk(ls);
    assert.equal(ls.stdout.trim(), '1');
    const inspected = await asReader(['inspect', `${ref}:1`, '--json']);
    assertOk(inspected);
    assert.equal((JSON.parse(inspected.stdout) as { digest: string }).digest, image.manifest.digest);
    assertOk(await asReader(['digest', `${ref}:1`]));
    assertOneLineError(await asReader(['inspect', `${ref}:2`]), /^ocipush: 127\.0\.0\.1:\d+\/prod\/readonly:2: manifest not found$/);

    assertOneLineError(await asReader(['tag', `${ref}:1`, 'two']), /^ocipush: 127\.0\.0\.1:\d+\/prod\/readonly:two: no permission to push the tag \(access denied by /);
    assertOneLineError(await asReader(['delete', `${ref}:1`]), /^ocipush: 127\.0\.0\.1:\d+\/prod\/readonly@sha256:[0-9a-f]{64}: no permission to delete \(access denied by /);
    assert.deepEqual(JSON.parse((await asReader(['ls', ref, '--json'])).stdout), ['1']);
  });
});

describe('a path that is no layout', () => {
  it('inspect and digest say it is no layout, in one line, rather than looking up a registry "."', async () => {
    const cwd = join(tmp.path, 'paths');
    mkdirSync(join(cwd, 'rootfs'), { recursive: true });
    for (const verb of ['inspect', 'digest']) {
      assertOneLineError(await runCliAsync([verb, './missing'], { env, cwd }), /^ocipush: \.\/missing: no such file or directory \(a path is not an image reference; a new layout is named oci:\.\/missing\)/, 2);
      assertOneLineError(await runCliAsync([verb, join(cwd, 'rootfs')], { env, cwd }), /rootfs: not an OCI image layout \(no oci-layout file\)/);
    }
    const json = await runCliAsync(['inspect', './rootfs', '--json'], { env, cwd });
    assert.equal(json.status, 1);
    assert.equal((JSON.parse(json.stdout) as { error: { code: string } }).error.code, 'ELAYOUT');
  });

  it('oci:FILE of an archive skopeo wrote names oci-archive:FILE', async () => {
    const file = join(tmp.path, 'app-oci.tar');
    await skopeoLayoutCopy(`oci:${image.layout}:v1`, `oci-archive:${file}:v1`);
    assertOneLineError(await runCliAsync(['inspect', `oci:${file}`]), /^ocipush: .*app-oci\.tar: a file, not an OCI image layout directory \(an OCI archive is oci-archive:FILE\)$/);
    assert.equal((await runCliAsync(['digest', `oci-archive:${file}`])).stdout.trim(), image.manifest.digest);
  });
});

describe('delete', () => {
  let proxy: FaultProxy;
  before(async () => { proxy = await startFaultProxy({ target: regs.production.url }); });
  after(() => proxy?.stop());

  it('resolves a tag to its digest, deletes it, says which; skopeo then fails for that digest', async () => {
    assertOk(await runCliAsync(['copy', `${regs.staging.host}/team/app:0`, `${regs.staging.host}/team/gone:1`], { env }));
    const r = await runCliAsync(['delete', `${regs.staging.host}/team/gone:1`], { env });
    assertOk(r);
    assert.equal(r.stdout.trim(), image.manifest.digest);
    assert.match(r.stderr, new RegExp(`deleted 127\\.0\\.0\\.1:\\d+/team/gone@${image.manifest.digest}`));
    assert.ok(await skopeoFails(`${regs.staging.host}/team/gone@${image.manifest.digest}`, creds));
    assertOneLineError(await runCliAsync(['delete', `${regs.staging.host}/team/gone@${image.manifest.digest}`], { env }), /manifest not found$/);
  });

  it('no permission to delete: one line saying so, the image stays', async () => {
    assertOk(await runCliAsync(['copy', `${regs.staging.host}/team/app:0`, `${regs.production.host}/prod/stays:1`], { env }));
    const r = await runCliAsync(['delete', `${regs.production.host}/prod/stays:1`, '-u', 'pusher', '--password-stdin'], { env: envWith(), input: PASSWORD });
    assertOneLineError(r, /^ocipush: 127\.0\.0\.1:\d+\/prod\/stays@sha256:[0-9a-f]{64}: no permission to delete/);
    assert.equal((await skopeoRaw(`${regs.production.host}/prod/stays:1`, creds)).digest, image.manifest.digest);
  });

  it('a registry with deletes disabled: one line saying so', async () => {
    assertOk(await runCliAsync(['copy', `${regs.staging.host}/team/app:0`, `${regs.production.host}/prod/keep:1`], { env }));
    proxy.addFault({ method: 'DELETE', fault: { kind: 'respond', status: 405, body: JSON.stringify({ errors: [{ code: 'UNSUPPORTED', message: 'The operation is unsupported.' }] }) } });
    const r = await runCliAsync(['delete', `${proxy.host}/prod/keep:1`, '-u', 'alice', '--password-stdin'], { env, input: PASSWORD });
    assertOneLineError(r, /^ocipush: 127\.0\.0\.1:\d+\/prod\/keep@sha256:[0-9a-f]{64}: the registry does not allow deletes/);
  });

  it('deletes disabled answered 400 UNSUPPORTED, as the distribution spec allows: the same line and code as a 405; the image stays', async () => {
    assertOk(await runCliAsync(['copy', `${regs.staging.host}/team/app:0`, `${regs.production.host}/prod/kept:1`], { env }));
    proxy.addFault({ method: 'DELETE', times: 2, fault: { kind: 'respond', status: 400, body: JSON.stringify({ errors: [{ code: 'UNSUPPORTED', message: 'The operation is unsupported.' }] }) } });
    const args = ['delete', `${proxy.host}/prod/kept:1`, '-u', 'alice', '--password-stdin'];
    assertOneLineError(await runCliAsync(args, { env, input: PASSWORD }), /^ocipush: 127\.0\.0\.1:\d+\/prod\/kept@sha256:[0-9a-f]{64}: the registry does not allow deletes \(400 UNSUPPORTED: The operation is unsupported\.\)$/);
    const json = await runCliAsync([...args, '--json'], { env, input: PASSWORD });
    assert.equal(json.status, 1);
    assert.equal((JSON.parse(json.stdout) as { error: { code: string } }).error.code, 'EUNSUPPORTED', 'a script tells a registry without deletes from a failure by one code');
    assert.equal((await skopeoRaw(`${regs.production.host}/prod/kept:1`, creds)).digest, image.manifest.digest);
  });
});

describe('a registry holding Docker schema 1 images (pushed before 2017)', () => {
  let old: RunningRegistry;
  before(async () => { old = await startRegistry({ schema1: true }); });
  after(() => old?.stop());

  it('tag and delete take one by tag or by digest, the digest the registry (and skopeo) name it by', async () => {
    for (const repo of ['old/app', 'old/pinned']) await skopeoSchema1(`oci:${image.layout}:v1`, `${old.host}/${repo}:1`);
    // The digest of the payload without its signatures, not of the bytes served: skopeo's, the registry's.
    const digest = await skopeoDigest(`${old.host}/old/app:1`);
    // tag PUTs its bytes again under each new tag, by tag or by that digest, as crane tag does.
    const tagged = await runCliAsync(['tag', `${old.host}/old/app:1`, 'kept']);
    assertOk(tagged);
    assert.equal(tagged.stdout.trim(), digest);
    assertOk(await runCliAsync(['tag', `${old.host}/old/app@${digest}`, 'pinned']));
    for (const t of ['kept', 'pinned']) assert.equal(await skopeoDigest(`${old.host}/old/app:${t}`), digest);
    // manifest and inspect --raw print it as served, as skopeo inspect --raw does (its signatures may come in any order).
    const served = JSON.parse((await skopeoRaw(`${old.host}/old/app:1`)).bytes.toString()) as { schemaVersion: number; fsLayers: unknown[] };
    assert.equal(served.schemaVersion, 1);
    for (const args of [['manifest', `${old.host}/old/app:1`], ['inspect', '--raw', `docker://${old.host}/old/app@${digest}`]]) {
      const printed = await runCliAsync(args);
      assertOk(printed);
      assert.deepEqual((JSON.parse(printed.stdout) as typeof served).fsLayers, served.fsLayers);
    }
    assertOneLineError(await runCliAsync(['inspect', `${old.host}/old/app:1`]), /is a Docker schema 1 manifest .*, which ocipush does not read; convert it/);

    const byTag = await runCliAsync(['delete', `${old.host}/old/app:1`]);
    assertOk(byTag);
    assert.equal(byTag.stdout.trim(), digest);
    assert.match(byTag.stderr, new RegExp(`deleted 127\\.0\\.0\\.1:\\d+/old/app@${digest} \\(was `));
    assert.ok(await skopeoFails(`${old.host}/old/app:1`));

    const pinned = await skopeoDigest(`${old.host}/old/pinned:1`);
    assertOk(await runCliAsync(['delete', `${old.host}/old/pinned@${pinned}`]));
    assert.ok(await skopeoFails(`${old.host}/old/pinned:1`));
  });
});
