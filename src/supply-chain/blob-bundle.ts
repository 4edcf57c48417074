import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { OcipushError, fromSystemError } from '../errors.js';
import { digestHex, type Digest } from '../oci/digest.js';
import { isBase64 } from './blob-signature.js';
import { decodePem } from './keys.js';
import { isSigstoreBundle, SIGSTORE_BUNDLE_MEDIA_TYPE } from './sigstore-bundle.js';
import { readUpTo } from './small-file.js';

/**
 * `sign-blob --bundle` / `verify-blob --bundle`: a file's signature in the bundle cosign writes.
 * cosign 3 (`--new-bundle-format`, its default) writes a Sigstore bundle v0.3 whose
 * `messageSignature` holds the signature and the file's digest (an unauthenticated hint, checked
 * against the file), the key named by a hint (base64 of the SHA-256 of its SPKI DER); cosign 2
 * wrote `{"base64Signature": …, "cert": …, "rekorBundle": …}`. Both are read; the signature is
 * checked with the key given, never with one the bundle carries, and transparency-log entries
 * are not checked (no Rekor, as for image signatures).
 */
export interface BundledSignature {
  signature: Buffer;
  /** The file's digest the bundle states, to compare with the file's own. */
  digest?: { algorithm: string; name: string; value: Buffer };
}

/** A bundle is a few kilobytes (a certificate, a log entry): anything larger is not one. */
const MAX_BUNDLE_BYTES = 1024 * 1024;

/** protobuf-specs' HashAlgorithm names, as protojson writes them, and Node's names for them. */
const HASHES: Record<string, string> = { SHA2_256: 'sha256', SHA2_384: 'sha384', SHA2_512: 'sha512', SHA3_256: 'sha3-256', SHA3_384: 'sha3-384' };

/** sigstore-go's hint for a public key: base64 of the SHA-256 of its SPKI DER (cosign's SignerVerifierKeypair.GetHint). */
export function publicKeyHint(publicKeyPem: string): string {
  return createHash('sha256').update(decodePem(publicKeyPem, 'public key').der).digest('base64');
}

/** The bundle cosign 3 sign-blob --key writes (without a transparency-log entry): `signature` over the file whose SHA-256 is `digest`. */
export function blobBundle(signature: Buffer, digest: Digest, publicKeyPem: string): string {
  return `${JSON.stringify({
    mediaType: SIGSTORE_BUNDLE_MEDIA_TYPE,
    verificationMaterial: { publicKey: { hint: publicKeyHint(publicKeyPem) } },
    messageSignature: {
      messageDigest: { algorithm: 'SHA2_256', digest: Buffer.from(digestHex(digest), 'hex').toString('base64') },
      signature: signature.toString('base64'),
    },
  })}\n`;
}

/**
 * The bundle cosign 2 sign-blob --key --bundle writes (cosign 3 with `--new-bundle-format=false`),
 * which cosign 2's verify-blob --bundle reads: its LocalSignedPayload without a transparency-log
 * entry, the key's PEM (base64) as `cert`, in Go's field order.
 */
export function legacyBlobBundle(signature: Buffer, publicKeyPem: string): string {
  return `${JSON.stringify({ base64Signature: signature.toString('base64'), cert: Buffer.from(publicKeyPem, 'utf8').toString('base64') })}\n`;
}

/** Reads `--bundle FILE`: either format; one line naming the file when it holds neither. */
export async function readBundleArgument(path: string): Promise<BundledSignature> {
  const info = await stat(path).catch((err: unknown) => { throw fromSystemError(err, path, '--bundle: cannot read'); });
  // A pipe (`<(curl …)`, /dev/stdin) is read as a file is: stat gives it no size, readUpTo counts.
  if (info.isDirectory() || info.size > MAX_BUNDLE_BYTES) throw new OcipushError('EUSAGE', `--bundle ${path}: ${info.isDirectory() ? 'a directory, not a file' : `${info.size} bytes, too large to be a bundle`}`);
  const bytes = await readUpTo(path, MAX_BUNDLE_BYTES).catch((err: unknown) => { throw fromSystemError(err, path, '--bundle: cannot read'); });
  if (!bytes) throw new OcipushError('EUSAGE', `--bundle ${path}: more than ${MAX_BUNDLE_BYTES} bytes, too large to be a bundle`);
  const text = bytes.toString('utf8');
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new OcipushError('EINVALID', `--bundle ${path}: not JSON (a Sigstore bundle or cosign's {"base64Signature": …})`);
  }
  const fail = (why: string): never => { throw new OcipushError('EINVALID', `--bundle ${path}: ${why}`); };
  if (doc === null || typeof doc !== 'object') return fail('not a Sigstore bundle or cosign\'s {"base64Signature": …}');
  if (typeof doc.base64Signature === 'string') return { signature: base64Field(doc.base64Signature, 'base64Signature', fail) };
  if (!isSigstoreBundle(String(doc.mediaType))) return fail(`media type ${JSON.stringify(doc.mediaType)} is not a Sigstore bundle's, and there is no base64Signature`);
  if (doc.dsseEnvelope !== undefined) return fail('the bundle holds a DSSE envelope (an attestation, cosign attest-blob), not a signature of a file');
  const message = doc.messageSignature as { signature?: unknown; messageDigest?: { algorithm?: unknown; digest?: unknown } } | undefined;
  if (!message || typeof message.signature !== 'string') return fail('the bundle has no messageSignature');
  const signature = base64Field(message.signature, 'messageSignature.signature', fail);
  const md = message.messageDigest;
  // protojson reads a null message field as an absent one.
  if (md === undefined || md === null) return { signature };
  const name = String(md.algorithm);
  const algorithm = HASHES[name];
  if (!algorithm || typeof md.digest !== 'string') return fail(`message digest algorithm ${JSON.stringify(md.algorithm)} is not supported (${Object.keys(HASHES).join(', ')} are)`);
  return { signature, digest: { algorithm, name, value: base64Field(md.digest, 'messageSignature.messageDigest.digest', fail) } };
}

function base64Field(value: string, field: string, fail: (why: string) => never): Buffer {
  const text = value.replace(/\s/g, '');
  if (!isBase64(text)) fail(`${field} is not base64`);
  return Buffer.from(text, 'base64');
}
