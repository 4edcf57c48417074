import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { OcipushError, fromSystemError } from '../errors.js';
import { Digester, type Digest } from '../oci/digest.js';
import type { Signer, Verifier } from './signer.js';
import { readUpTo } from './small-file.js';

/**
 * cosign's key-based blob signatures (`sign-blob`, `verify-blob`): the signature is made over the
 * file's exact bytes (ECDSA over their SHA-256, DER), base64 where it is written down. No
 * payload wraps them and nothing is stored in a registry. The file is read once, streamed; its
 * SHA-256 is taken on the way, to name it in messages.
 */
export async function signFile(path: string, signer: Signer): Promise<{ signature: Buffer; digest: Digest }> {
  const digester = new Digester();
  const material = await signer.signStream(readHashing(path, digester));
  return { signature: material.signature, digest: digester.digest() };
}

/** Checks `signature` over the file; with `alsoHash` (a bundle's message digest algorithm), that digest of it too, in the same read. */
export async function verifyFile(path: string, signature: Buffer, verifier: Verifier, alsoHash?: string): Promise<{ valid: boolean; digest: Digest; also?: Buffer }> {
  const digester = new Digester();
  const extra = alsoHash === undefined ? undefined : createHash(alsoHash);
  const valid = await verifier.verifyStream(extra ? hashing(readHashing(path, digester), extra) : readHashing(path, digester), signature, {});
  return { valid, digest: digester.digest(), ...(extra ? { also: extra.digest() } : {}) };
}

async function* hashing(chunks: AsyncIterable<Uint8Array>, hash: Hash): AsyncGenerator<Uint8Array> {
  for await (const chunk of chunks) {
    hash.update(chunk);
    yield chunk;
  }
}

/** A signature file larger than this is not one (an RSA-4096 signature in base64 is under 1 KiB). */
const MAX_SIGNATURE_FILE = 64 * 1024;

/**
 * `--signature`: the base64 text itself, or a file holding it, as cosign takes either. A value that
 * names something readable is read (a file, or a pipe: `<(curl …)`, /dev/stdin, as Go's
 * os.ReadFile reads them); otherwise it must be base64. What is read is taken as cosign's
 * verify-blob takes it: base64 whose line breaks do not count (`openssl base64` wraps at 64
 * columns), or else the signature's own bytes (`openssl dgst -sign -out FILE` writes DER).
 */
export async function readSignatureArgument(value: string): Promise<Buffer> {
  const info = await stat(value).catch(() => undefined);
  if (info && !info.isDirectory()) {
    if (info.size > MAX_SIGNATURE_FILE) throw new OcipushError('EUSAGE', `--signature ${value}: the file is ${info.size} bytes, too large to be a signature (not the signed file?)`);
    const bytes = await readUpTo(value, MAX_SIGNATURE_FILE).catch((err: unknown) => { throw fromSystemError(err, value, 'cannot read'); });
    if (!bytes) throw new OcipushError('EUSAGE', `--signature ${value}: more than ${MAX_SIGNATURE_FILE} bytes, too large to be a signature (not the signed file?)`);
    const text = bytes.toString('latin1').replace(/[\r\n]/g, '').trim();
    if (isBase64(text)) return checkLength(Buffer.from(text, 'base64'), value, true);
    // Taken for DER, another of verify-blob's files would fail as a signature of some other file would.
    const misplaced = otherFileKind(bytes);
    if (misplaced) throw new OcipushError('EUSAGE', `--signature ${value}: ${misplaced}`);
    return checkLength(bytes, value, true);
  }
  // cosign verify-blob fetches an http(s) --signature; ocipush reaches no server the command line does not name as a registry.
  if (!info && /^https?:\/\//i.test(value)) {
    throw new OcipushError('EUSAGE', `--signature ${value}: a URL, which ocipush does not fetch (cosign verify-blob does): pass it as --signature <(curl -fsSL '${value}'), or download it first`);
  }
  // Line breaks do not count here either: --signature "$(openssl base64 -in sig.der)" is wrapped, and Go's base64 decoder, cosign's, skips them.
  const text = value.replace(/[\r\n]/g, '').trim();
  return checkLength(isBase64(text) ? Buffer.from(text, 'base64') : Buffer.alloc(0), value, false);
}

/** What a --signature file holds when it is a bundle or a key given in the wrong place; undefined for a signature. */
function otherFileKind(bytes: Buffer): string | undefined {
  const text = bytes.toString('utf8').trim();
  const pem = /^-----BEGIN ([A-Z0-9 ]+)-----$/m.exec(text);
  if (pem) return `holds a PEM ${pem[1]}, not a signature${/PUBLIC KEY|CERTIFICATE/.test(pem[1]!) ? ' (the public key goes in --key)' : ''}`;
  if (!text.startsWith('{')) return undefined;
  try {
    JSON.parse(text);
  } catch {
    return undefined;
  }
  return 'holds JSON, not a signature (a bundle goes in --bundle)';
}

/** Standard base64, padded or not, without white space (the form cosign's signatures and bundles use). */
export function isBase64(text: string): boolean {
  return /^[A-Za-z0-9+/]+={0,2}$/.test(text);
}

function checkLength(signature: Buffer, value: string, isFile: boolean): Buffer {
  // The shortest signature of a supported key (Ed25519) is 64 bytes: a shorter value is a mistyped file name.
  if (signature.length < 64) {
    throw new OcipushError('EUSAGE', `--signature ${isFile ? `${value}: the file does not hold a signature (base64, or its DER bytes)` : `${JSON.stringify(value)}: neither a file nor a base64 signature`}`);
  }
  return signature;
}

/**
 * A file's bytes, read once in 1 MiB chunks, each added to `digester` as it goes by; a read error
 * names the file. `-` is standard input, as cosign sign-blob and verify-blob read it.
 */
export async function* readHashing(path: string, digester: Digester): AsyncGenerator<Uint8Array> {
  try {
    for await (const chunk of path === '-' ? process.stdin : createReadStream(path, { highWaterMark: 1 << 20 })) {
      digester.update(chunk as Buffer);
      yield chunk as Buffer;
    }
  } catch (err) {
    throw fromSystemError(err, path === '-' ? 'standard input' : path, 'cannot read');
  }
}
