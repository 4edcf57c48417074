import { createPrivateKey, createPublicKey, createSign, createVerify, generateKeyPairSync, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { OcipushError, fromSystemError } from '../errors.js';
import { decryptKey, encryptKey } from './encrypted-key.js';
import { verifyEd25519ph } from './ed25519ph.js';
import { readUpTo } from './small-file.js';

/** The PEM type cosign writes today, and the one it wrote before (both are read). */
export const SIGSTORE_PRIVATE_KEY_PEM = 'ENCRYPTED SIGSTORE PRIVATE KEY';
export const COSIGN_PRIVATE_KEY_PEM = 'ENCRYPTED COSIGN PRIVATE KEY';

/** Asks for the password of an encrypted key only when one is met (a plain PEM key needs none). */
export type PasswordSource = () => Promise<Buffer>;

export interface PemBlock {
  type: string;
  der: Buffer;
}

/** The first PEM block of `text` (Go's pem.Decode: text before it is skipped). */
export function decodePem(text: string, what: string): PemBlock {
  const m = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/.exec(text);
  if (!m) throw new OcipushError('EINVALID', `${what}: not a PEM file`);
  const body = m[2]!.split(/\r?\n/).filter((line) => line !== '' && !line.includes(':')).join('');
  return { type: m[1]!, der: Buffer.from(body, 'base64') };
}

/** PEM as Go's pem.Encode writes it: 64-column base64 lines, a newline after the END line. */
export function encodePem(type: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${type}-----\n${lines.join('\n')}\n-----END ${type}-----\n`;
}

export interface GeneratedKeyPair {
  /** `ENCRYPTED SIGSTORE PRIVATE KEY` PEM, as cosign generate-key-pair writes it. */
  privateKeyPem: string;
  /** `PUBLIC KEY` PEM (PKIX). */
  publicKeyPem: string;
}

/** A fresh ECDSA P-256 key pair, the private half PKCS#8-encoded and sealed under `password`. */
export async function generateKeyPair(password: Buffer): Promise<GeneratedKeyPair> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'der' });
  try {
    const sealed = await encryptKey(pkcs8, password);
    return { privateKeyPem: encodePem(SIGSTORE_PRIVATE_KEY_PEM, sealed), publicKeyPem: publicKeyPem(publicKey) };
  } finally {
    pkcs8.fill(0);
  }
}

export function publicKeyPem(key: KeyObject): string {
  return encodePem('PUBLIC KEY', key.export({ type: 'spki', format: 'der' }));
}

/**
 * Reads a key argument: a file path, or `env://NAME` for PEM text held in an environment
 * variable (cosign's syntax). The text is returned, never printed.
 */
export async function readKeyArgument(arg: string, flag: string): Promise<{ text: string; what: string }> {
  if (arg.startsWith('env://')) {
    const name = arg.slice('env://'.length);
    const text = process.env[name];
    if (!name || text === undefined || text === '') throw new OcipushError('EUSAGE', `${flag} ${arg}: the environment variable ${name || '(empty name)'} is not set`);
    return { text, what: `key from environment variable ${name}` };
  }
  // cosign's key references that are no file (a KMS, a Kubernetes secret, a URL, a token): said so
  // by their scheme alone, as a pkcs11: URI may carry its PIN.
  const scheme = /^(awskms|gcpkms|azurekms|hashivault|k8s|gitlab|https?):\/\/|^(pkcs11):/.exec(arg);
  if (scheme) {
    const name = scheme[1] ?? scheme[2]!;
    throw new OcipushError('EUNSUPPORTED', `${flag} ${name}:${name === 'pkcs11' ? '' : '//'}…: cosign's ${/^https?$/.test(name) ? 'keys by URL are' : `${name} keys are`} not supported: give a key file (PEM, or cosign's encrypted key) or env://NAME`);
  }
  let bytes: Buffer | undefined;
  try {
    bytes = await readUpTo(arg, MAX_KEY_FILE);
  } catch (err) {
    throw fromSystemError(err, arg, `${flag}: cannot read`);
  }
  if (!bytes) throw new OcipushError('EUSAGE', `${flag} ${arg}: more than ${MAX_KEY_FILE / (1 << 20)} MiB, too large to be a key (the file to sign given as the key?)`);
  return { text: bytes.toString('utf8'), what: arg };
}

/** A key file is a few kilobytes (a certificate chain a few more): anything larger is another file. */
const MAX_KEY_FILE = 1024 * 1024;

/** What the key messages say is read. */
const READ = "cosign's encrypted keys and PKCS#8, plain or encrypted, are";

/**
 * A private key from PEM text: cosign's encrypted formats (both PEM types; the password is asked
 * for), openssl's password-encrypted PKCS#8 (`ENCRYPTED PRIVATE KEY`, the same password), or a
 * plain `PRIVATE KEY` (PKCS#8), `EC PRIVATE KEY` or `RSA PRIVATE KEY` as openssl writes them (an
 * `EC PARAMETERS` block before the key, as `openssl ecparam -genkey` writes it, is passed over).
 */
export async function parsePrivateKey(pemText: string, what: string, password: PasswordSource): Promise<KeyObject> {
  const text = pemText.replace(/-----BEGIN EC PARAMETERS-----[\s\S]*?-----END EC PARAMETERS-----\r?\n?/g, '');
  const block = decodePem(text, what);
  let key: KeyObject;
  if (block.type === SIGSTORE_PRIVATE_KEY_PEM || block.type === COSIGN_PRIVATE_KEY_PEM) {
    const pass = await password();
    let der: Buffer;
    try {
      der = await decryptKey(block.der, pass, what);
    } finally {
      pass.fill(0);
    }
    try {
      key = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    } catch {
      // cosign's LoadPrivateKey takes PKCS#8 only; a SEC1 key sealed by old tools is refused there too.
      throw new OcipushError('EINVALID', `${what}: the decrypted key is not a PKCS#8 private key`);
    } finally {
      der.fill(0);
    }
  } else if (block.type === 'PRIVATE KEY' || block.type === 'EC PRIVATE KEY' || block.type === 'RSA PRIVATE KEY') {
    // openssl's legacy password-sealed PEM (`openssl ec -aes256`): its headers say so, and no password is asked for it.
    if (/^Proc-Type:\s*4,\s*ENCRYPTED/m.test(text)) {
      throw new OcipushError('EUNSUPPORTED', `${what}: the ${block.type} is encrypted with openssl's legacy PEM encryption, which is not supported (${READ}: openssl pkcs8 -topk8 -v2 aes-256-cbc converts it)`);
    }
    try {
      key = createPrivateKey({ key: text, format: 'pem' });
    } catch {
      throw new OcipushError('EINVALID', `${what}: the ${block.type} PEM block does not parse`);
    }
  } else if (block.type === 'ENCRYPTED PRIVATE KEY') {
    // openssl pkcs8 -topk8 -v2 aes-256-cbc, openssl genpkey -aes256: PKCS#8 sealed under a password (PBES2).
    const pass = await password();
    try {
      key = createPrivateKey({ key: block.der, format: 'der', type: 'pkcs8', passphrase: pass });
    } catch {
      throw new OcipushError('EAUTH', `${what}: cannot decrypt the private key: wrong password (or the file is damaged)`);
    } finally {
      pass.fill(0);
    }
  } else if (block.type.includes('ENCRYPTED')) {
    throw new OcipushError('EUNSUPPORTED', `${what}: PEM type "${block.type}" is not supported (${READ})`);
  } else {
    throw new OcipushError('EINVALID', `${what}: PEM type "${block.type}" is not a private key`);
  }
  checkKeyKind(key, what);
  return key;
}

/** A public key from PEM text (`PUBLIC KEY`, as cosign writes it; a certificate's key also works). */
export function parsePublicKey(text: string, what: string): KeyObject {
  const block = decodePem(text, what);
  if (block.type !== 'PUBLIC KEY' && block.type !== 'CERTIFICATE' && block.type !== 'RSA PUBLIC KEY') {
    throw new OcipushError('EINVALID', `${what}: PEM type "${block.type}" is not a public key`);
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: text, format: 'pem' });
  } catch {
    throw new OcipushError('EINVALID', `${what}: the public key does not parse`);
  }
  checkKeyKind(key, what);
  return key;
}

/** The curves cosign takes (Go's crypto/x509 and sigstore's goodkey), by Node's name. */
const COSIGN_CURVES: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };

function checkKeyKind(key: KeyObject, what: string): void {
  const type = key.asymmetricKeyType;
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve ?? 'an unnamed curve';
    if (COSIGN_CURVES[curve]) return;
    // A signature by such a key is one cosign (and skopeo, and sigstore's libraries) cannot check.
    throw new OcipushError('EUNSUPPORTED', `${what}: ECDSA keys on ${curve} are not supported (cosign takes P-256, P-384 and P-521)`);
  }
  if (type === 'ed25519') return;
  if (type === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048) return;
  throw new OcipushError('EUNSUPPORTED', `${what}: ${type === 'rsa' ? 'RSA keys below 2048 bits are' : `${String(type)} keys are`} not supported (ECDSA, RSA ≥ 2048, Ed25519 are)`);
}

/**
 * The digest algorithm signatures are made with: SHA-256 for every key (Ed25519 signs the message
 * itself), what `cosign verify --key` and `verify-blob --key` check by default, and what cosign
 * signed with for every key before 2.6.
 */
function hashFor(key: KeyObject): string | null {
  return key.asymmetricKeyType === 'ed25519' ? null : 'sha256';
}

/**
 * The digest algorithms a signature by this key is accepted over: SHA-256, and for P-384 and
 * P-521 also the curve's own hash, which `cosign sign --key` and `sign-blob --key` use since
 * cosign 2.6 (sigstore's LoadDefaultSignerVerifier: P-384 with SHA-384, P-521 with SHA-512).
 */
function verifyHashes(key: KeyObject): (string | null)[] {
  const curve = key.asymmetricKeyType === 'ec' ? key.asymmetricKeyDetails?.namedCurve : undefined;
  if (curve === 'secp384r1') return ['sha256', 'sha384'];
  if (curve === 'secp521r1') return ['sha256', 'sha512'];
  return [hashFor(key)];
}

/** An ASN.1 DER ECDSA signature (or PKCS#1 v1.5 for RSA) over the exact payload bytes, as cosign makes. */
export function signBytes(key: KeyObject, payload: Uint8Array): Buffer {
  return cryptoSign(hashFor(key), payload, key);
}

export function verifyBytes(key: KeyObject, payload: Uint8Array, signature: Uint8Array): boolean {
  const verified = verifyHashes(key).some((hash) => {
    try {
      return cryptoVerify(hash, payload, key, signature);
    } catch {
      return false;
    }
  });
  // cosign 2.6 and later sign with an Ed25519 key as Ed25519ph; before, and ocipush, Ed25519 itself.
  return verified || (key.asymmetricKeyType === 'ed25519' && verifyEd25519ph(key, payload, signature));
}

/**
 * What signBytes makes of the bytes `chunks` yields, without holding them: the SHA-256 is taken
 * as they come (a release archive of any size). Ed25519 signs the message itself, not a hash of
 * it, so for such a key the bytes are gathered first.
 */
export async function signStream(key: KeyObject, chunks: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const hash = hashFor(key);
  if (hash === null) return cryptoSign(null, await gather(chunks), key);
  const signer = createSign(hash);
  for await (const chunk of chunks) signer.update(chunk);
  return signer.sign(key);
}

/** verifyBytes over the bytes `chunks` yields, read once: each accepted digest is taken as they come. */
export async function verifyStream(key: KeyObject, chunks: AsyncIterable<Uint8Array>, signature: Uint8Array): Promise<boolean> {
  const hashes = verifyHashes(key);
  if (hashes.includes(null)) return verifyBytes(key, await gather(chunks), signature);
  const verifiers = hashes.map((hash) => createVerify(hash!));
  for await (const chunk of chunks) for (const verifier of verifiers) verifier.update(chunk);
  return verifiers.some((verifier) => {
    try {
      return verifier.verify(key, signature);
    } catch {
      return false;
    }
  });
}

async function gather(chunks: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return Buffer.concat(parts);
}
