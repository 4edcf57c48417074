import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { OcipushError, fromSystemError } from '../errors.js';
import { Digester, type Digest } from '../oci/digest.js';
import type { Signer, Verifier } from './signer.js';

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

export async function verifyFile(path: string, signature: Buffer, verifier: Verifier): Promise<{ valid: boolean; digest: Digest }> {
  const digester = new Digester();
  const valid = await verifier.verifyStream(readHashing(path, digester), signature, {});
  return { valid, digest: digester.digest() };
}

/**
 * `--signature`: the base64 text itself, or a file holding it, as cosign takes either. A value that
 * is a readable file is the file; otherwise it must be base64.
 */
export async function readSignatureArgument(value: string): Promise<Buffer> {
  const isFile = await stat(value).then((s) => s.isFile(), () => false);
  const text = isFile ? (await readFile(value, 'utf8').catch((err: unknown) => { throw fromSystemError(err, value, 'cannot read'); })).trim() : value.trim();
  const signature = /^[A-Za-z0-9+/]+={0,2}$/.test(text) ? Buffer.from(text, 'base64') : Buffer.alloc(0);
  // The shortest signature of a supported key (Ed25519) is 64 bytes: a shorter value is a mistyped file name.
  if (signature.length < 64) {
    throw new OcipushError('EUSAGE', `--signature ${isFile ? `${value}: the file does not hold` : `${JSON.stringify(value)}: neither a file nor`} a base64 signature`);
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
