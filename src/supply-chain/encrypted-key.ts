import { randomBytes, scrypt as scryptCallback } from 'node:crypto';
import { xsalsa20poly1305 } from '@noble/ciphers/salsa.js';
import { OcipushError } from '../errors.js';

/**
 * The password-encrypted key format cosign writes (go-securesystemslib's `encrypted` package): a
 * JSON document holding the scrypt parameters and salt, the nacl/secretbox (XSalsa20-Poly1305)
 * nonce, and the sealed bytes (the 16-byte Poly1305 tag, then the ciphertext). Byte slices are
 * standard base64, as Go's encoding/json writes them; the field order is Go's struct order.
 */
interface EncryptedDocument {
  kdf: { name: string; params: { N: number; r: number; p: number }; salt: string };
  cipher: { name: string; nonce: string };
  ciphertext: string;
}

/** go-securesystemslib's defaults (and what cosign generate-key-pair writes). */
export const SCRYPT_PARAMS = { N: 32768, r: 8, p: 1 } as const;
const KEY_BYTES = 32;
const SALT_BYTES = 32;
const NONCE_BYTES = 24;
/**
 * Refuse absurd scrypt parameters a hostile or damaged file could use to exhaust memory: scrypt
 * holds 128 × N × r bytes, capped at 1 GiB (N = 2^20 with r = 8; cosign writes 32 MiB).
 */
const MAX_N = 1 << 20;
const MAX_SCRYPT_BYTES = 1 << 30;

function deriveKey(password: Buffer, salt: Buffer, params: { N: number; r: number; p: number }): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCallback(password, salt, KEY_BYTES, { N: params.N, r: params.r, p: params.p, maxmem: 128 * params.N * params.r * 2 + 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** Seals `plaintext` (a PKCS#8 DER key) under the password; returns the JSON document's bytes. */
export async function encryptKey(plaintext: Uint8Array, password: Buffer): Promise<Buffer> {
  const salt = randomBytes(SALT_BYTES);
  const nonce = randomBytes(NONCE_BYTES);
  const key = await deriveKey(password, salt, SCRYPT_PARAMS);
  try {
    const sealed = xsalsa20poly1305(key, nonce).encrypt(plaintext);
    const doc: EncryptedDocument = {
      kdf: { name: 'scrypt', params: { ...SCRYPT_PARAMS }, salt: salt.toString('base64') },
      cipher: { name: 'nacl/secretbox', nonce: nonce.toString('base64') },
      ciphertext: Buffer.from(sealed).toString('base64'),
    };
    return Buffer.from(JSON.stringify(doc), 'utf8');
  } finally {
    key.fill(0);
  }
}

/**
 * Opens a document encryptKey (or cosign) wrote. A wrong password and a corrupt file both fail
 * the Poly1305 check: the message says so without echoing anything secret.
 */
export async function decryptKey(document: Buffer, password: Buffer, what: string): Promise<Buffer> {
  const doc = parseDocument(document, what);
  const salt = Buffer.from(doc.kdf.salt, 'base64');
  const nonce = Buffer.from(doc.cipher.nonce, 'base64');
  const sealed = Buffer.from(doc.ciphertext, 'base64');
  if (nonce.length !== NONCE_BYTES) throw new OcipushError('EINVALID', `${what}: the nacl/secretbox nonce is ${nonce.length} bytes, expected ${NONCE_BYTES}`);
  const key = await deriveKey(password, salt, doc.kdf.params);
  try {
    return Buffer.from(xsalsa20poly1305(key, nonce).decrypt(sealed));
  } catch {
    throw new OcipushError('EAUTH', `${what}: cannot decrypt the private key: wrong password (or the file is damaged)`);
  } finally {
    key.fill(0);
  }
}

function parseDocument(bytes: Buffer, what: string): EncryptedDocument {
  let doc: EncryptedDocument;
  try {
    doc = JSON.parse(bytes.toString('utf8')) as EncryptedDocument;
  } catch {
    throw new OcipushError('EINVALID', `${what}: the encrypted key is not the JSON document cosign writes`);
  }
  const params = doc?.kdf?.params;
  if (doc?.kdf?.name !== 'scrypt' || typeof doc.kdf.salt !== 'string' || !params) {
    throw new OcipushError('EUNSUPPORTED', `${what}: key derivation "${String(doc?.kdf?.name)}" is not supported (scrypt is)`);
  }
  if (doc.cipher?.name !== 'nacl/secretbox' || typeof doc.cipher.nonce !== 'string' || typeof doc.ciphertext !== 'string') {
    throw new OcipushError('EUNSUPPORTED', `${what}: cipher "${String(doc.cipher?.name)}" is not supported (nacl/secretbox is)`);
  }
  const { N, r, p } = params;
  const power = Number.isSafeInteger(N) && N > 1 && (N & (N - 1)) === 0;
  if (!power || N > MAX_N || !Number.isSafeInteger(r) || r < 1 || r > 64 || !Number.isSafeInteger(p) || p < 1 || p > 16) {
    throw new OcipushError('EINVALID', `${what}: scrypt parameters N=${N} r=${r} p=${p} are out of range`);
  }
  // Within each bound, N = 2^20 with r = 64 would still ask for 8 GiB (a malloc failure, or minutes of work) before the password is tried.
  if (128 * N * r > MAX_SCRYPT_BYTES) {
    throw new OcipushError('EINVALID', `${what}: scrypt parameters N=${N} r=${r} p=${p} need ${(128 * N * r) / (1 << 20)} MiB, more than the ${MAX_SCRYPT_BYTES / (1 << 20)} MiB allowed (cosign writes N=${SCRYPT_PARAMS.N} r=${SCRYPT_PARAMS.r} p=${SCRYPT_PARAMS.p})`);
  }
  return doc;
}
