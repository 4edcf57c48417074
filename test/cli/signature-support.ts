import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../support/tools.js';
import { blobPath } from '../registry/support.js';

interface SignatureLayer { mediaType: string; digest: string; annotations?: Record<string, string> }

/**
 * Every signature stored for `digest` in `host/repo` (cosign's `sha256-<hex>.sig` tag, fetched by
 * skopeo) whose payload names `digest` and the repository (or `identity`, a REGISTRY/REPOSITORY
 * signed for elsewhere), checked by openssl over the exact payload bytes with the public key
 * `pub`: how many there are. `scratch` is a directory to work in.
 */
export function opensslVerifiedSignatures(host: string, repo: string, digest: string, pub: string, scratch: string, identity = `${host}/${repo}`): number {
  const dir = join(scratch, `sig-${Math.random().toString(36).slice(2)}`);
  run('skopeo', ['copy', '--quiet', '--src-tls-verify=false', '--preserve-digests', `docker://${host}/${repo}:${digest.replace(':', '-')}.sig`, `oci:${dir}:sig`]);
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  const manifest = JSON.parse(readFileSync(blobPath(dir, index.manifests[0]!.digest), 'utf8')) as { layers: SignatureLayer[] };
  let verified = 0;
  for (const layer of manifest.layers) {
    const payloadFile = join(dir, 'payload');
    const sigFile = join(dir, 'sig.der');
    writeFileSync(payloadFile, readFileSync(blobPath(dir, layer.digest)));
    writeFileSync(sigFile, Buffer.from(layer.annotations!['dev.cosignproject.cosign/signature']!, 'base64'));
    const payload = JSON.parse(readFileSync(payloadFile, 'utf8')) as { critical: { identity: { 'docker-reference': string }; image: { 'docker-manifest-digest': string } } };
    if (payload.critical.identity['docker-reference'] !== identity || payload.critical.image['docker-manifest-digest'] !== digest) continue;
    assert.match(run('openssl', ['dgst', '-sha256', '-verify', pub, '-signature', sigFile, payloadFile]), /Verified OK/);
    verified++;
  }
  return verified;
}
