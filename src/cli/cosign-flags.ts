/**
 * cosign's flags that ocipush has no counterpart for, on the verbs cosign has them on: a script
 * written for cosign is told in one line why the flag is not there and what to do, rather than
 * only that the option is unknown.
 */
const VERBS = new Set(['sign', 'verify', 'attest', 'verify-attestation', 'sign-blob', 'verify-blob']);

const TLOG = 'ocipush makes and checks no transparency-log (Rekor) entry or signed timestamp, only the key\'s signature: drop it';
const KEYLESS = 'keyless signing and verification (Fulcio certificates, OIDC identities) are not supported: sign and verify with --key';
const CONFIRM = 'ocipush asks for no confirmation: drop it';

const HINTS: Record<string, string> = {
  'tlog-upload': TLOG,
  'rekor-url': TLOG,
  'insecure-ignore-tlog': TLOG,
  'insecure-ignore-sct': TLOG,
  'private-infrastructure': TLOG,
  offline: TLOG,
  'use-signed-timestamps': TLOG,
  'timestamp-server-url': TLOG,
  'trusted-root': TLOG,
  'signing-config': TLOG,
  'use-signing-config': TLOG,
  yes: CONFIRM,
  y: CONFIRM,
  'certificate-identity': KEYLESS,
  'certificate-identity-regexp': KEYLESS,
  'certificate-oidc-issuer': KEYLESS,
  'certificate-oidc-issuer-regexp': KEYLESS,
  'identity-token': KEYLESS,
  'oidc-issuer': KEYLESS,
  'fulcio-url': KEYLESS,
  certificate: 'a certificate\'s public key is given as --key (the certificate PEM itself); its chain and identity are not checked',
};

/** Why `name` (a long option without its dashes, or a short one's letter) is not an option of `verb`, when it is cosign's; undefined otherwise. */
export function cosignFlagHint(verb: string, name: string): string | undefined {
  if (!VERBS.has(verb)) return undefined;
  if ((name === 'o' || name === 'output') && (verb === 'verify' || verb === 'verify-attestation')) return '--json prints what was verified, as cosign\'s -o json';
  return Object.hasOwn(HINTS, name) ? HINTS[name] : undefined;
}
