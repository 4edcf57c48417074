import type { KeyObject } from 'node:crypto';
import { ed25519ph } from '@noble/curves/ed25519.js';

/**
 * Verification of Ed25519ph signatures (RFC 8032 §5.1: Ed25519 over the SHA-512 of the message,
 * with the `dom2` prefix and an empty context), which cosign 2.6 and later make with an Ed25519
 * key (sigstore's LoadDefaultSignerVerifier with cosign's default WithED25519ph). Node's OpenSSL
 * 3.0 has no Ed25519ph; @noble/curves (audited, by the author of @noble/ciphers, which the key
 * format already needs) has, so no curve arithmetic is written here. Only checked, never made:
 * ocipush signs with Ed25519 itself, which cosign verifies too.
 */
export function verifyEd25519ph(key: KeyObject, message: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== 64) return false;
  const publicBytes = Buffer.from(String(key.export({ format: 'jwk' }).x), 'base64url');
  try {
    // zip215: false: RFC 8032's strict rules, non-canonical encodings refused.
    return ed25519ph.verify(signature, message, publicBytes, { zip215: false });
  } catch {
    return false;
  }
}
