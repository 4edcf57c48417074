import { createPublicKey, type KeyObject } from 'node:crypto';
import { publicKeyPem, signBytes, signStream, verifyBytes, verifyStream } from './keys.js';

/**
 * What a signer hands back for one payload: the signature, and what a verifier needs beside it.
 * A key-based signer has nothing more (the verifier holds the public key). A keyless signer
 * (Fulcio certificate + Rekor entry) would return its certificate, chain and transparency-log
 * bundle here, as the annotations cosign writes next to the signature
 * (`dev.sigstore.cosign/certificate`, `dev.sigstore.cosign/chain`, `dev.sigstore.cosign/bundle`).
 */
export interface SignatureMaterial {
  signature: Buffer;
  annotations: Record<string, string>;
}

/**
 * Signs payloads. Signing code (sign, attest) depends on this interface only, so a keyless
 * signer that asks Fulcio for a certificate and records the signature in Rekor plugs in beside
 * KeySigner without changing how signatures are stored.
 */
export interface Signer {
  /** `key` today; `keyless` is the reserved name for a Fulcio/Rekor signer. */
  readonly kind: 'key' | 'keyless';
  sign(payload: Buffer): Promise<SignatureMaterial>;
  /** The same signature over bytes that stream past (`sign-blob` of a file of any size). */
  signStream(chunks: AsyncIterable<Uint8Array>): Promise<SignatureMaterial>;
  /** What checks this signer's signatures, when it has one key: a signature it already made is then not stored twice. */
  verifier?(): Verifier;
}

/** Checks a signature over exact payload bytes (the key-based half of cosign's verification). */
export interface Verifier {
  /** For messages and --json: the PEM of the public key. */
  readonly description: string;
  verify(payload: Uint8Array, signature: Uint8Array, annotations: Record<string, string>): boolean;
  verifyStream(chunks: AsyncIterable<Uint8Array>, signature: Uint8Array, annotations: Record<string, string>): Promise<boolean>;
}

export class KeySigner implements Signer {
  readonly kind = 'key' as const;

  constructor(private readonly key: KeyObject) {}

  /** The matching public key, PEM. */
  publicKeyPem(): string {
    return publicKeyPem(createPublicKey(this.key));
  }

  verifier(): Verifier {
    return new KeyVerifier(createPublicKey(this.key));
  }

  async sign(payload: Buffer): Promise<SignatureMaterial> {
    return { signature: signBytes(this.key, payload), annotations: {} };
  }

  async signStream(chunks: AsyncIterable<Uint8Array>): Promise<SignatureMaterial> {
    return { signature: await signStream(this.key, chunks), annotations: {} };
  }
}

export class KeyVerifier implements Verifier {
  readonly description: string;

  constructor(private readonly key: KeyObject) {
    this.description = publicKeyPem(key);
  }

  verify(payload: Uint8Array, signature: Uint8Array): boolean {
    return verifyBytes(this.key, payload, signature);
  }

  verifyStream(chunks: AsyncIterable<Uint8Array>, signature: Uint8Array): Promise<boolean> {
    return verifyStream(this.key, chunks, signature);
  }
}
