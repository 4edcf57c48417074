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
 * `host/repo:sha256-<hex>.sig`, with the layer's other `annotations` (cosign's Rekor bundle).
 * Nothing of ocipush takes part.
 */
export function storeCosignSignature(host: string, repo: string, digest: string, payload: Buffer, signature: Buffer, scratch: string, annotations: Record<string, string> = {}): void {
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
    layers: [{ mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json', ...put(payload), annotations: { 'dev.cosignproject.cosign/signature': signature.toString('base64'), ...annotations } }],
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

/**
 * Stores a Sigstore bundle (`bundle`, JSON) as cosign 3 stores an image signature or attestation
 * (`WriteAttestationNewBundleFormat`): an OCI 1.1 artifact manifest (empty config) whose one layer
 * is the bundle, referring to `subject`, listed in the referrers tag schema's `sha256-<hex>` index
 * (storeReferrer).
 */
export function storeCosignBundle(host: string, repo: string, subject: { digest: string; size: number; mediaType: string }, bundle: Buffer, predicateType: string, scratch: string): void {
  const bundleType = 'application/vnd.dev.sigstore.bundle.v0.3+json';
  storeReferrer(host, repo, subject, {
    artifactType: bundleType,
    config: { mediaType: 'application/vnd.oci.empty.v1+json', bytes: Buffer.from('{}') },
    layers: [{ mediaType: bundleType, bytes: bundle }],
    annotations: { 'dev.sigstore.bundle.content': 'dsse-envelope', 'dev.sigstore.bundle.predicateType': predicateType, 'org.opencontainers.image.created': '2026-01-01T00:00:00Z' },
  }, scratch);
}

/**
 * Stores `signature` (DER, made by another tool) over `payload` as `cosign sign
 * --registry-referrers-mode=oci-1-1` stores it (`WriteSignaturesExperimentalOCI`): cosign's
 * signature image (the payload a simple-signing layer, the base64 signature in its annotation)
 * as an OCI 1.1 referrer of `subject`, its config media type cosign's `sig` artifact type, and
 * the `artifactType` field only when `artifactTypeField` (cosign writes it since 3.1.2; before,
 * the config media type alone said it, and the referrers list names it so).
 */
export function storeCosignReferrerSignature(
  host: string, repo: string, subject: { digest: string; size: number; mediaType: string }, payload: Buffer, signature: Buffer, scratch: string, artifactTypeField: boolean,
): void {
  const sigType = 'application/vnd.dev.cosign.artifact.sig.v1+json';
  storeReferrer(host, repo, subject, {
    artifactType: sigType,
    artifactTypeField,
    config: { mediaType: sigType, bytes: Buffer.from(JSON.stringify({ architecture: '', os: '', config: {}, rootfs: { type: 'layers', diff_ids: [sha256Of(payload)] } })) },
    layers: [{ mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json', bytes: payload, annotations: { 'dev.cosignproject.cosign/signature': signature.toString('base64') } }],
  }, scratch);
}

interface ReferrerContent {
  artifactType: string;
  /** Whether the manifest itself carries `artifactType` (default), or only its config's media type says it. */
  artifactTypeField?: boolean;
  config: { mediaType: string; bytes: Buffer };
  layers: { mediaType: string; bytes: Buffer; annotations?: Record<string, string> }[];
  annotations?: Record<string, string>;
}

/**
 * An OCI 1.1 referrer of `subject` (a manifest whose `subject` is it), listed in the referrers
 * tag schema's `sha256-<hex>` index with its artifactType (docker-registry 2.8 has no referrers
 * API; go-containerregistry then writes that index, read and extended). Written by curl over the
 * registry API; nothing of ocipush takes part.
 */
export function storeReferrer(host: string, repo: string, subject: { digest: string; size: number; mediaType: string }, content: ReferrerContent, scratch: string): void {
  const base = `http://${host}/v2/${repo}`;
  const file = join(scratch, `referrer-${Math.random().toString(36).slice(2)}`);
  const put = (bytes: Buffer): { digest: string; size: number } => {
    const digest = sha256Of(bytes);
    writeFileSync(file, bytes);
    const headers = run('curl', ['-sSf', '-X', 'POST', '-D', '-', '-o', '/dev/null', `${base}/blobs/uploads/`]);
    const location = /^location:\s*(\S+)/im.exec(headers)![1]!;
    const url = new URL(location, `http://${host}`);
    url.searchParams.set('digest', digest);
    run('curl', ['-sSf', '-X', 'PUT', '-H', 'Content-Type: application/octet-stream', '--data-binary', `@${file}`, url.href]);
    return { digest, size: bytes.length };
  };
  const putManifest = (bytes: Buffer, mediaType: string, reference: string): { digest: string; size: number } => {
    writeFileSync(file, bytes);
    run('curl', ['-sSf', '-X', 'PUT', '-H', `Content-Type: ${mediaType}`, '--data-binary', `@${file}`, `${base}/manifests/${reference}`]);
    return { digest: sha256Of(bytes), size: bytes.length };
  };
  const manifestType = 'application/vnd.oci.image.manifest.v1+json';
  const indexType = 'application/vnd.oci.image.index.v1+json';
  const { annotations } = content;
  const manifestBytes = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: manifestType,
    ...(content.artifactTypeField === false ? {} : { artifactType: content.artifactType }),
    config: { mediaType: content.config.mediaType, ...put(content.config.bytes) },
    layers: content.layers.map((l) => ({ mediaType: l.mediaType, ...put(l.bytes), ...(l.annotations ? { annotations: l.annotations } : {}) })),
    subject,
    ...(annotations ? { annotations } : {}),
  }));
  const manifest = putManifest(manifestBytes, manifestType, sha256Of(manifestBytes));
  const tag = subject.digest.replace(':', '-');
  let existing: { manifests: unknown[] } = { manifests: [] };
  try {
    existing = JSON.parse(run('curl', ['-sSf', '-H', `Accept: ${indexType}`, `${base}/manifests/${tag}`])) as { manifests: unknown[] };
  } catch { /* no referrers yet */ }
  const entry = { mediaType: manifestType, ...manifest, artifactType: content.artifactType, ...(annotations ? { annotations } : {}) };
  putManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: indexType, manifests: [...existing.manifests, entry] })), indexType, tag);
}

/**
 * The Sigstore bundle `cosign sign --key` (cosign 3) makes for `digest`: a DSSE envelope of an
 * in-toto statement about the digest, predicate type `https://sigstore.dev/cosign/sign/v1`, `-a`
 * annotations on the subject (protojson's field order); `sign` signs DSSE's PAE of it.
 */
export function cosignBundle(statement: object, sign: (pae: Buffer) => Buffer, publicKeyHint: string): Buffer {
  const payload = Buffer.from(JSON.stringify(statement));
  const payloadType = 'application/vnd.in-toto+json';
  const pae = Buffer.concat([Buffer.from(`DSSEv1 ${payloadType.length} ${payloadType} ${payload.length} `), payload]);
  return Buffer.from(JSON.stringify({
    mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    verificationMaterial: { publicKey: { hint: publicKeyHint } },
    dsseEnvelope: { payload: payload.toString('base64'), payloadType, signatures: [{ sig: sign(pae).toString('base64') }] },
  }));
}
