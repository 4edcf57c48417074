import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { requireTool, tempDir } from '../support/tools.js';
import { MiB, skopeoTagsAsync, umociImage, type UmociImage } from '../registry/support.js';
import { assertOk, assertOneLineError, runCliAsync } from './registry-support.js';
import { envWith, PASSWORD, skopeoFails, skopeoRaw, startTwoRegistries, type TwoRegistries } from './copy-support.js';
import { skopeoLayoutCopy } from './skopeo-support.js';

let tmp: { path: string; cleanup: () => Promise<void> };
let image: UmociImage;
let regs: TwoRegistries;
let env: NodeJS.ProcessEnv;
let proxy: FaultProxy;
const alice = `alice:${PASSWORD}`;
const creds = ['--creds', alice];

before(async () => {
  tmp = await tempDir();
  image = umociImage(tmp.path, 'v1', [0.5 * MiB]);
  regs = await startTwoRegistries(tmp.path);
  env = envWith(regs.dockerConfig);
  proxy = await startFaultProxy({ target: regs.production.url });
});
after(async () => {
  await proxy?.stop();
  await regs?.stop();
  await tmp?.cleanup();
});

/** The tags the registry lists (skopeo list-tags), sorted; without blocking this process (the token issuer lives here). */
const skopeoTags = (repository: string) => skopeoTagsAsync(repository, { creds: alice });

describe('untag', () => {
  it('takes one tag away on distribution 2.8 (which deletes manifests only by digest): the image stays under its other tags and by digest', async () => {
    const repo = `${regs.staging.host}/team/app`;
    assertOk(await runCliAsync(['push', `${repo}:main`, '--layout', image.layout], { env }));
    assertOk(await runCliAsync(['tag', `${repo}:main`, 'pr-123', 'pr-124'], { env }));
    const r = await runCliAsync(['untag', `${repo}:pr-123`, `${repo}:pr-124`], { env });
    assertOk(r);
    assert.equal(r.stdout, `${repo}:pr-123\n${repo}:pr-124\n`);
    assert.match(r.stderr, new RegExp(`untagged ${repo}:pr-123 \\(${image.manifest.digest}; the image stays`));
    assert.deepEqual((await skopeoTags(repo)), ['main'], 'delete would have taken main with them');
    assert.equal((await skopeoRaw(`${repo}:main`, creds)).digest, image.manifest.digest);
    // The last tag too: the manifest is still served by digest, as regctl tag delete leaves it.
    assertOk(await runCliAsync(['untag', `${repo}:main`], { env }));
    assert.ok(await skopeoFails(`${repo}:main`, creds));
    assert.equal((await skopeoRaw(`${repo}@${image.manifest.digest}`, creds)).digest, image.manifest.digest);
  });

  it('a Docker-typed image is untagged the same way (a placeholder of its own family)', async () => {
    const layout = join(tmp.path, 'docker-typed');
    await skopeoLayoutCopy(`oci:${image.layout}:v1`, `oci:${layout}:v1`);
    const repo = `${regs.staging.host}/team/docker`;
    execFileSync('skopeo', ['copy', '--format', 'v2s2', '--dest-tls-verify=false', '--dest-creds', `alice:${PASSWORD}`, `oci:${layout}:v1`, `docker://${repo}:1`], { stdio: 'pipe' });
    execFileSync('skopeo', ['copy', '--format', 'v2s2', '--dest-tls-verify=false', '--dest-creds', `alice:${PASSWORD}`, `oci:${layout}:v1`, `docker://${repo}:2`], { stdio: 'pipe' });
    const before = await skopeoRaw(`${repo}:1`, creds);
    assert.match(before.bytes.toString(), /vnd\.docker\.distribution\.manifest\.v2/);
    assertOk(await runCliAsync(['untag', `${repo}:2`, '--json'], { env }));
    assert.deepEqual((await skopeoTags(repo)), ['1']);
    assert.equal((await skopeoRaw(`${repo}:1`, creds)).digest, before.digest);
  });

  it('a tag that is not there, a digest, or a registry that refuses deletes: one line, every tag as it was; with delete rights through a token issuer, the tag goes', async () => {
    const repo = `${regs.production.host}/prod/app`;
    assertOk(await runCliAsync(['push', `${repo}:1`, '--layout', image.layout], { env }));
    assertOk(await runCliAsync(['tag', `${repo}:1`, '2'], { env }));
    assertOneLineError(await runCliAsync(['untag', `${repo}:nope`], { env }), /^ocipush: 127\.0\.0\.1:\d+\/prod\/app:nope: manifest not found$/);
    assertOneLineError(await runCliAsync(['untag', `${repo}@${image.manifest.digest}`], { env }), /untag takes a tag away .*; delete .* removes a manifest by digest$/, 2);
    // A later reference that is bad stops the whole command before the first tag goes.
    assertOneLineError(await runCliAsync(['untag', `${repo}:2`, `${repo}@${image.manifest.digest}`], { env }), /untag takes a tag away/, 2);
    // No delete rights (the token issuer gives pusher pull and push only).
    assertOneLineError(await runCliAsync(['untag', `${repo}:2`, '-u', 'pusher', '--password-stdin'], { env: envWith(), input: PASSWORD }), /^ocipush: 127\.0\.0\.1:\d+\/prod\/app:2: no permission to delete/);
    // Deletes disabled: every DELETE answered 405, as distribution without storage.delete.enabled.
    const viaProxy = `${proxy.host}/prod/app`;
    proxy.addFault({ method: 'DELETE', times: 10, fault: { kind: 'respond', status: 405, body: JSON.stringify({ errors: [{ code: 'UNSUPPORTED', message: 'The operation is unsupported.' }] }) } });
    assertOneLineError(await runCliAsync(['untag', `${viaProxy}:2`, '-u', 'alice', '--password-stdin'], { env, input: PASSWORD }), /the registry does not allow deletes/);
    assert.deepEqual((await skopeoTags(repo)), ['1', '2'], 'the tag was never pointed at the placeholder');
    assert.equal((await skopeoRaw(`${repo}:2`, creds)).digest, image.manifest.digest);
    // With delete rights, through the token issuer: pull, delete and push scopes asked in turn.
    assertOk(await runCliAsync(['untag', `${repo}:2`], { env }));
    assert.deepEqual(await skopeoTags(repo), ['1']);
  });

  it('a DELETE of the tag answered 200 by something that deleted nothing (regctl trusts only 202): the tag is asked for again and, still there, taken away through the placeholder', async () => {
    const repo = `${regs.production.host}/prod/twohundred`;
    assertOk(await runCliAsync(['push', `${repo}:1`, '--layout', image.layout], { env }));
    assertOk(await runCliAsync(['tag', `${repo}:1`, '2'], { env }));
    proxy.clearFaults();
    proxy.addFault({ method: 'DELETE', path: /\/manifests\/2$/, fault: { kind: 'respond', status: 200, body: '' } });
    const r = await runCliAsync(['untag', `${proxy.host}/prod/twohundred:2`, '-u', 'alice', '--password-stdin'], { env, input: PASSWORD });
    assertOk(r);
    assert.equal(proxy.pendingFaults().length, 0, 'the DELETE of the tag was answered 200');
    assert.match(r.stderr, /the tag taken away through a placeholder manifest/);
    assert.deepEqual(await skopeoTags(repo), ['1']);
    assert.equal((await skopeoRaw(`${repo}:1`, creds)).digest, image.manifest.digest);
  });

  it('oci:DIR:NAME takes that name alone out of index.json, as umoci rm (delete takes every name of the image)', async () => {
    const layout = join(tmp.path, 'names');
    await skopeoLayoutCopy(`oci:${image.layout}:v1`, `oci:${layout}:a`);
    assertOk(await runCliAsync(['tag', `oci:${layout}:a`, 'b', 'c']));
    const r = await runCliAsync(['untag', `oci:${layout}:b`, '--json']);
    assertOk(r);
    assert.equal((JSON.parse(r.stdout) as { untagged: Array<{ digest: string }> }).untagged[0]!.digest, image.manifest.digest);
    requireTool('umoci');
    const names = execFileSync('umoci', ['ls', '--layout', layout], { encoding: 'utf8' }).trim().split('\n').sort();
    assert.deepEqual(names, ['a', 'c']);
    assertOneLineError(await runCliAsync(['untag', `oci:${layout}:b`]), /oci:.*names:b: no image of that name in /, 2);
    assert.equal(JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')).manifests.length, 2);
  });
  it('a tag or name that is not there, later in the list, leaves the earlier ones as they were; one named twice is taken once', async () => {
    const repo = `${regs.staging.host}/team/typo`;
    assertOk(await runCliAsync(['push', `${repo}:main`, '--layout', image.layout], { env }));
    assertOk(await runCliAsync(['tag', `${repo}:main`, 'pr-1'], { env }));
    assertOneLineError(await runCliAsync(['untag', `${repo}:pr-1`, `${repo}:pr-2-typo`], { env }), /^ocipush: 127\.0\.0\.1:\d+\/team\/typo:pr-2-typo: manifest not found$/);
    assert.deepEqual(await skopeoTags(repo), ['main', 'pr-1']);
    assertOk(await runCliAsync(['untag', `${repo}:pr-1`, `${repo}:pr-1`], { env }));
    assert.deepEqual(await skopeoTags(repo), ['main']);

    const layout = join(tmp.path, 'typo');
    await skopeoLayoutCopy(`oci:${image.layout}:v1`, `oci:${layout}:a`);
    assertOk(await runCliAsync(['tag', `oci:${layout}:a`, 'b']));
    assertOneLineError(await runCliAsync(['untag', `oci:${layout}:b`, `oci:${layout}:c`]), /oci:.*typo:c: no image of that name in /, 2);
    requireTool('umoci');
    assert.deepEqual(execFileSync('umoci', ['ls', '--layout', layout], { encoding: 'utf8' }).trim().split('\n').sort(), ['a', 'b']);
  });
});
