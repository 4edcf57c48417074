import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RunningRegistry } from '../support/registry.js';
import { requireTool, run, runCli, tempDir } from '../support/tools.js';
import { skopeoTags, umociImage } from '../registry/support.js';
import { registriesWithOwnLogins, assertOk } from './registry-support.js';
import { pseudoRandom } from '../assemble/support.js';

const ALICE = 'image-Secret-5b1f';
const BOB = 'cache-Secret-8d20';

/**
 * A layout built with `--cache-repo`, or on a base, in a third registry, copied into the image registry: each
 * host behind htpasswd (Basic) auth with a user of its own. The destination's
 * --username/--password-stdin (shared by both sides) and OCIPUSH_USERNAME/PASSWORD are for the
 * image registry alone; the cache's registry is reached with its own login from the Docker config.
 * Before, the cache's client took the source side's flags there: the shared --username without
 * its password, and the cache entry was never written ("layer cache … --username needs
 * --password-stdin"). Tags listed by skopeo with each registry's own credentials.
 */
describe('copy oci:DIR into a registry, the layout\'s --cache-repo or base on a third registry: each host gets its own credentials', () => {
  let images: RunningRegistry;
  let caches: RunningRegistry;
  let tmp: { path: string; cleanup: () => Promise<void> };
  let dockerConfig: string;

  before(async () => {
    requireTool('skopeo');
    tmp = await tempDir();
    // bob's login for the cache's registry only: the image registry's comes from flags or the environment.
    ({ images, other: caches, dockerConfig } = await registriesWithOwnLogins(tmp.path, { alice: ALICE, bob: BOB }));
  });
  after(async () => {
    await Promise.all([images?.stop(), caches?.stop()]);
    await tmp?.cleanup();
  });

  const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
    OCIPUSH_USERNAME: undefined, OCIPUSH_PASSWORD: undefined, OCIPUSH_REGISTRY_TOKEN: undefined, DOCKER_AUTH_CONFIG: undefined,
    DOCKER_CONFIG: dockerConfig, SOURCE_DATE_EPOCH: '1700000000', ...extra,
  });
  // (The cache repository does not exist before its first entry: skopeo says so with a failure.)
  const cacheTags = (): string[] => { try { return skopeoTags(`${caches.host}/ci/cache`, { creds: `bob:${BOB}` }); } catch { return []; } };
  const imageTags = (repo: string) => skopeoTags(`${images.host}/${repo}`, { creds: `alice:${ALICE}` });
  const noSecret = (r: { stdout: string; stderr: string }) => assert.ok(![ALICE, BOB].some((s) => r.stdout.includes(s) || r.stderr.includes(s)), 'no password printed');

  /** A layout whose one layer's cache entry is pending for `--cache-repo` in the cache's registry. */
  const builtLayout = (name: string): string => {
    const rootfs = join(tmp.path, `rootfs-${name}`);
    mkdirSync(rootfs, { recursive: true });
    writeFileSync(join(rootfs, name), pseudoRandom(64 * 1024, name));
    const layout = join(tmp.path, name);
    assertOk(runCli(['build', rootfs, '--layout', layout, '--tag', 'app', '--owner', '0:0', '--cache-repo', `${caches.host}/ci/cache`, '--quiet'], { env: env() }));
    return layout;
  };

  it('--username/--password-stdin (both sides\'): the image goes up with alice\'s, the cache entry with bob\'s login', () => {
    const before = cacheTags().length;
    const r = runCli(['copy', `oci:${builtLayout('flags')}:app`, `${images.host}/app/flags:1`, '-u', 'alice', '--password-stdin'], { input: ALICE, env: env() });
    assertOk(r);
    noSecret(r);
    assert.doesNotMatch(r.stderr, /warning|cache.*(?:refused|failed|needs)/i, r.stderr);
    assert.match(r.stderr, /wrote 1 layer cache entry/);
    assert.deepEqual(imageTags('app/flags'), ['1']);
    assert.equal(cacheTags().length, before + 1, cacheTags().join(' '));
  });

  it('OCIPUSH_USERNAME/PASSWORD (the destination\'s) stay with the image registry too', () => {
    const before = cacheTags().length;
    const r = runCli(['copy', `oci:${builtLayout('environment')}:app`, `${images.host}/app/environment:1`], { env: env({ OCIPUSH_USERNAME: 'alice', OCIPUSH_PASSWORD: ALICE }) });
    assertOk(r);
    noSecret(r);
    assert.match(r.stderr, /wrote 1 layer cache entry/);
    assert.deepEqual(imageTags('app/environment'), ['1']);
    assert.equal(cacheTags().length, before + 1, cacheTags().join(' '));
  });

  it('a base layer the layout only references (build --base) is read from the base\'s registry with its own login, not the destination\'s', () => {
    const base = umociImage(tmp.path, 'base', [20_000]);
    run('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', '--dest-creds', `bob:${BOB}`, `oci:${base.layout}:base`, `docker://${caches.host}/library/base:1`]);
    const rootfs = join(tmp.path, 'rootfs-lazy');
    mkdirSync(rootfs, { recursive: true });
    writeFileSync(join(rootfs, 'app'), 'on a base in another registry\n');
    const layout = join(tmp.path, 'lazy');
    assertOk(runCli(['build', rootfs, '--layout', layout, '--tag', 'app', '--base', `${caches.host}/library/base:1`, '--quiet'], { env: env() }));
    // Before: "blob … cannot be fetched from where the build found it (…/library/base: --username needs --password-stdin …)".
    const layersOf = (repo: string): string[] => {
      const r = runCli(['copy', `oci:${layout}:app`, `${images.host}/${repo}:1`, '-u', 'alice', '--password-stdin'], { input: ALICE, env: env() });
      assertOk(r);
      noSecret(r);
      assert.deepEqual(imageTags(repo), ['1']);
      return (JSON.parse(run('skopeo', ['inspect', '--tls-verify=false', '--creds', `alice:${ALICE}`, `docker://${images.host}/${repo}:1`])) as { Layers: string[] }).Layers;
    };
    assert.equal(layersOf('app/lazy')[0], base.layers[0], 'the base layer went up with the image');
  });
});
