import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { tempDir } from '../support/tools.js';
import { umociImage } from '../registry/support.js';
import { assertOk, runCliAsync } from './registry-support.js';

// cosign's --allow-insecure-registry and --allow-http-registry, as a cosign command line for a
// test registry carries them, on the verbs cosign has: they were refused ("is --insecure here").

let secure: RunningRegistry;
let tmp: { path: string; cleanup: () => Promise<void> };
const env = { ...process.env, COSIGN_PASSWORD: '' };

before(async () => {
  tmp = await tempDir();
  secure = await startRegistry({ tls: true });
});
after(async () => {
  await secure?.stop();
  await tmp?.cleanup();
});

test('sign and verify take cosign\'s --allow-insecure-registry as --insecure: a registry whose certificate no CA vouches for', async () => {
  const image = umociImage(tmp.path, 'v1', [4_000]);
  const ref = `${secure.host}/cosign-flags/app:1`;
  assertOk(await runCliAsync(['push', ref, '--layout', image.layout, '--tag', 'v1', '--insecure']));
  const keys = join(tmp.path, 'k');
  assertOk(await runCliAsync(['generate-key-pair', '--output-prefix', keys], { env }));
  // Without it the certificate is refused, as cosign refuses it.
  const refused = await runCliAsync(['verify', ref, '--key', `${keys}.pub`]);
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /certificate/);
  assertOk(await runCliAsync(['sign', ref, '--key', `${keys}.key`, '--allow-insecure-registry'], { env }));
  const verified = await runCliAsync(['verify', ref, '--key', `${keys}.pub`, '--allow-insecure-registry=true']);
  assertOk(verified);
  assert.equal(verified.stdout.trim(), image.manifest.digest);
  writeFileSync(join(tmp.path, 'predicate.json'), '{"checked":true}\n');
  assertOk(await runCliAsync(['attest', ref, '--key', `${keys}.key`, '--predicate', join(tmp.path, 'predicate.json'), '--type', 'custom', '--allow-insecure-registry'], { env }));
  assertOk(await runCliAsync(['verify-attestation', ref, '--key', `${keys}.pub`, '--allow-insecure-registry']));
});
