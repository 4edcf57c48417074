import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { runImage } from '../support/runc.js';
import { REPO_ROOT, requireTool, tempDir } from '../support/tools.js';

/**
 * `npm run image` (scripts/image.sh): ocipush's own image, built by ocipush. Built twice it has
 * one digest; run with runc, it is Node 24 and this ocipush, and it pushes an image (itself) from
 * inside the container to a registry on the host's loopback.
 */

const TAG = 'ocipush:test';
const ENTRY = ['/usr/local/bin/node', '/usr/local/lib/ocipush/bin/ocipush.js'];
let registry: RunningRegistry;
let tmp: { path: string; cleanup: () => Promise<void> };
let layout: string;
let digest: string;

function buildImage(into: string): string {
  const r = spawnSync('bash', [join(REPO_ROOT, 'scripts', 'image.sh')], {
    cwd: REPO_ROOT, encoding: 'utf8', timeout: 300_000,
    env: { ...process.env, OCIPUSH_IMAGE_LAYOUT: into, OCIPUSH_IMAGE_TAG: TAG, OCIPUSH_IMAGE_NO_BUILD: '1', TMPDIR: tmp.path },
  });
  assert.equal(r.status, 0, `scripts/image.sh failed:\n${r.stdout}\n${r.stderr}`);
  const last = r.stdout.trim().split('\n').at(-1)!;
  assert.match(last, /^sha256:[0-9a-f]{64}$/);
  return last;
}

before(async () => {
  for (const tool of ['runc', 'umoci']) requireTool(tool);
  registry = await startRegistry();
  tmp = await tempDir('ocipush-image-test-');
  layout = join(tmp.path, 'layout');
  digest = buildImage(layout);
});

after(async () => {
  await registry?.stop();
  await tmp?.cleanup();
});

test('npm run image is reproducible: built again into another layout, the same manifest digest', () => {
  assert.equal(buildImage(join(tmp.path, 'again')), digest);
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
  assert.equal(index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === TAG)?.digest, digest);
  const manifest = JSON.parse(readFileSync(join(layout, 'blobs', 'sha256', digest.slice(7)), 'utf8')) as { config: { digest: string } };
  const config = JSON.parse(readFileSync(join(layout, 'blobs', 'sha256', manifest.config.digest.slice(7)), 'utf8')) as { config: { Entrypoint: string[]; User?: string } };
  assert.deepEqual(config.config.Entrypoint, ENTRY);
});

test('the image runs with runc: Node 24, this ocipush, and it pushes itself to the registry on the host', async () => {
  // (Each runImage unpacks the 130 MB image again: one run for both versions.)
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  const versions = runImage(layout, TAG, { args: ['/usr/local/bin/node', '-p', "process.version + ' ' + require('/usr/local/lib/ocipush/package.json').version"] });
  assert.equal(versions.status, 0, versions.stderr);
  assert.match(versions.stdout.trim(), new RegExp(`^v24\\.\\d+\\.\\d+ ${pkg.version.replaceAll('.', '\\.')}$`));

  const pushed = runImage(layout, TAG, {
    hostNetwork: true,
    mounts: [{ source: layout, destination: '/work/layout' }],
    args: [...ENTRY, 'push', `${registry.host}/ocipush/self:1`, '--layout', '/work/layout', '--tag', TAG],
    timeoutMs: 180_000,
  });
  assert.equal(pushed.status, 0, `push from inside the container failed:\n${pushed.stdout}\n${pushed.stderr}`);
  assert.equal(pushed.stdout.trim(), digest);
  // Every request of the push came from the container's ocipush.
  const agents = (await registry.settledAccessLog()).filter((e) => e.path.startsWith('/v2/ocipush/self/')).map((e) => e.userAgent);
  assert.ok(agents.length > 0 && agents.every((a) => a.startsWith(`ocipush/${pkg.version}`)), agents.join(', '));
  const res = await fetch(`${registry.url}/v2/ocipush/self/manifests/1`, { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('docker-content-digest'), digest);
});
