import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { requireTool, tempDir } from '../support/tools.js';
import { umociImage, type UmociImage } from '../registry/support.js';
import { assertOk, assertOneLineError, runCliAsync } from '../cli/registry-support.js';

/**
 * The limits of distribution/reference (the grammar docker, skopeo and the registry read),
 * checked against the real registry and skopeo: what both take works, what skopeo refuses is
 * refused in one line before any request.
 */

let tmp: { path: string; cleanup: () => Promise<void> };
let registry: RunningRegistry;
let image: UmociImage;

/** A repository path of `length` characters: `first`, then components of 50 `a`s, ending on `b`. */
function pathOf(length: number, first = 'a'): string {
  return `${first}/${`${'a'.repeat(50)}/`.repeat(6)}`.slice(0, length - 1) + 'b';
}

function skopeo(args: string[]): { status: number | null; stderr: string } {
  requireTool('skopeo');
  const r = spawnSync('skopeo', args, { encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr };
}

before(async () => {
  tmp = await tempDir();
  image = umociImage(tmp.path, 'v1', [1024]);
  registry = await startRegistry();
});
after(async () => {
  await registry?.stop();
  await tmp?.cleanup();
});

describe('repository name length', () => {
  it('a path of 255 characters is pushed and read back', async () => {
    // Its first component has a dot: distribution 2.8 with its blob descriptor cache checks the
    // name again as Docker Hub's (docker.io/aaa…), 10 characters longer, and answers 500.
    const ref = `${registry.host}/${pathOf(255, 'a.b')}:v1`;
    assert.equal(pathOf(255, 'a.b').length, 255);
    assertOk(await runCliAsync(['push', ref, '--layout', image.layout, '--tag', 'v1']));
    const r = await runCliAsync(['digest', ref]);
    assertOk(r);
    assert.equal(r.stdout.trim(), image.manifest.digest);
  });

  it('a path of 256 characters is refused in one line before any request, as skopeo refuses it (the registry answers 500)', async () => {
    const ref = `${registry.host}/${pathOf(256)}:v1`;
    await registry.forgetAccessLog();
    for (const args of [['push', ref, '--layout', image.layout, '--tag', 'v1'], ['inspect', ref], ['digest', ref]]) {
      assertOneLineError(await runCliAsync(args), /^ocipush: invalid image reference ".*": the repository name is 256 characters long, more than 255$/, 2);
    }
    assert.deepEqual(await registry.settledAccessLog(), []);
    const theirs = skopeo(['inspect', '--tls-verify=false', `docker://${ref}`]);
    assert.notEqual(theirs.status, 0);
    assert.match(theirs.stderr, /repository name must not be more than 255 characters/);
    // What the registry itself does with such a name: not a NAME_INVALID a client could show, a 500.
    const answer = await fetch(`${registry.url}/v2/${pathOf(256)}/manifests/v1`);
    assert.equal(answer.status, 500);
  });

  it('a Docker Hub name counts with its library/ prefix, as distribution normalises it', async () => {
    const r = await runCliAsync(['digest', 'a'.repeat(250)]);
    assertOneLineError(r, /the repository name is 258 characters long, more than 255$/, 2);
  });
});
