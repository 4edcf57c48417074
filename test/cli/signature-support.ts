import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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

/**
 * Stores `signature` (DER, made by another tool) over `payload` as cosign stores a key-based
 * signature: an OCI image whose one layer is the payload, the base64 signature in
 * `dev.cosignproject.cosign/signature`, written as an OCI layout and copied by skopeo to
 * `host/repo:sha256-<hex>.sig`. Nothing of ocipush takes part.
 */
export function storeCosignSignature(host: string, repo: string, digest: string, payload: Buffer, signature: Buffer, scratch: string): void {
  const dir = join(scratch, `cosign-sig-${Math.random().toString(36).slice(2)}`);
  const blobs = join(dir, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const put = (bytes: Buffer): { digest: string; size: number } => {
    const hex = createHash('sha256').update(bytes).digest('hex');
    writeFileSync(join(blobs, hex), bytes);
    return { digest: `sha256:${hex}`, size: bytes.length };
  };
  // cosign's signature image: an empty-rootfs config, the payload as its one layer.
  const config = put(Buffer.from(JSON.stringify({ architecture: '', os: '', config: {}, rootfs: { type: 'layers', diff_ids: [sha256Of(payload)] } })));
  const manifest = put(Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: [{ mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json', ...put(payload), annotations: { 'dev.cosignproject.cosign/signature': signature.toString('base64') } }],
  })));
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'sig' } }] }));
  run('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', '--preserve-digests', `oci:${dir}:sig`, `docker://${host}/${repo}:${digest.replace(':', '-')}.sig`]);
}

/** The simple-signing payload cosign signs for `digest` in `host/repo`, byte for byte. */
export function cosignPayload(identity: string, digest: string): Buffer {
  return Buffer.from(`{"critical":{"identity":{"docker-reference":"${identity}"},"image":{"docker-manifest-digest":"${digest}"},"type":"cosign container image signature"},"optional":null}`);
}

function sha256Of(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}
