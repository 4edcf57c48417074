/**
 * Other tools' flags, typed into ocipush by their users: skopeo's, podman's and cosign's that
 * ocipush spells otherwise (named with ocipush's), and cosign's that ocipush has no counterpart
 * for, on the verbs cosign has them on. A script written for those tools is told in one line
 * why the flag is not there and what to do, rather than only that the option is unknown.
 */

/**
 * The usage line for `name` (a long option without its dashes, or a short one's letter), unknown
 * to `verb`, when it is another tool's; undefined otherwise. `has`: whether `verb` has an option.
 */
export function otherToolsFlagLine(verb: string, name: string, long: boolean, has: (option: string) => boolean): string | undefined {
  const theirs = long ? otherToolsFlag(name, has, verb) : undefined;
  if (theirs) return `unknown option --${name} for ${verb}: ${theirs}`;
  const cosign = cosignFlagHint(verb, name);
  return cosign ? `${long ? `--${name}` : `-${name}`} is cosign's option: ${cosign}` : undefined;
}
const VERBS = new Set(['sign', 'verify', 'attest', 'verify-attestation', 'sign-blob', 'verify-blob']);

/**
 * How many words of the command line a cosign flag takes that asks for what ocipush does anyway,
 * to be passed over: `--tlog-upload=false`, `--insecure-ignore-tlog` and its older name
 * `--private-infrastructure` (no transparency log is written or read), `-y`/`--yes` (nothing is
 * confirmed), sign-blob's `--b64` (the signature is base64), and on the verifies `--check-claims` (the payload's digest is always checked) and
 * `--experimental-oci11[=false]` (the referrers are read beside cosign's tags either way) and
 * `--signature-digest-algorithm sha256` (cosign's default, the digest ocipush checks), as
 * scripts written for cosign pass them. Undefined for any other flag, or the opposite value
 * (`--tlog-upload`, `=true`), which asks for what ocipush does not do and is refused by its hint.
 * `next`: the word after the flag.
 */
export function cosignNoOpFlagWords(verb: string, name: string, long: boolean, inline: string | undefined, next: string | undefined): 1 | 2 | undefined {
  // The verifies' digest algorithm, a value flag: its default is what ocipush checks.
  if (long && name === 'signature-digest-algorithm' && VERIFIES.has(verb)) return inline !== undefined ? (inline === 'sha256' ? 1 : undefined) : next === 'sha256' ? 2 : undefined;
  const wanted = noOpValues(verb, name, long);
  if (wanted === undefined) return undefined;
  if (inline !== undefined) return wanted.includes(inline) ? 1 : undefined;
  // A boolean flag's value may follow as its own word (`--tlog-upload false`), as ocipush reads its own flags.
  if (next === 'true' || next === 'false') return wanted.includes(next) ? 2 : undefined;
  return wanted.includes('true') ? 1 : undefined;
}

const VERIFIES = new Set(['verify', 'verify-attestation', 'verify-blob']);

/** The values of cosign's boolean flag `name` that ask of `verb` what it does anyway. */
function noOpValues(verb: string, name: string, long: boolean): string[] | undefined {
  if (!VERBS.has(verb)) return undefined;
  if (name === 'y' && !long) return ['true'];
  if (!long) return undefined;
  if (name === 'tlog-upload') return ['false'];
  if (name === 'insecure-ignore-tlog' || name === 'yes') return ['true'];
  if (name === 'b64' && verb === 'sign-blob') return ['true'];
  if (!VERIFIES.has(verb)) return undefined;
  if (name === 'private-infrastructure') return ['true'];
  if (name === 'experimental-oci11') return ['true', 'false'];
  if (name === 'check-claims' && verb !== 'verify-blob') return ['true'];
  return undefined;
}

const TLOG = 'ocipush makes and checks no transparency-log (Rekor) entry or signed timestamp, only the key\'s signature: drop it';
const KEYLESS = 'keyless signing and verification (Fulcio certificates, OIDC identities) are not supported: sign and verify with --key';
const CONFIRM = 'ocipush asks for no confirmation: drop it';

const HINTS: Record<string, string> = {
  'tlog-upload': TLOG,
  'rekor-url': TLOG,
  'insecure-ignore-tlog': TLOG,
  'insecure-ignore-sct': TLOG,
  'signature-digest-algorithm': 'ocipush checks signatures over SHA-256 (cosign\'s default, --signature-digest-algorithm sha256), and a P-384 or P-521 key\'s over SHA-384 or SHA-512 as well: drop it',
  'check-claims': 'ocipush always checks that the signed payload names the image\'s digest (cosign\'s --check-claims, its default): drop it',
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
function cosignFlagHint(verb: string, name: string): string | undefined {
  if (!VERBS.has(verb)) return undefined;
  if (name === 'check-claims' && verb !== 'verify' && verb !== 'verify-attestation') return undefined;
  if (name === 'signature-digest-algorithm' && !VERIFIES.has(verb)) return undefined;
  if (name === 'local-image' && (verb === 'verify' || verb === 'verify-attestation')) return `cosign's --local-image DIR (a directory cosign save wrote) is the reference oci:DIR here: ocipush ${verb} oci:DIR --key …`;
  if (name === 'registry-referrers-mode' && (verb === 'sign' || verb === 'attest')) return `ocipush ${verb} stores cosign's sha256-<hex>.${verb === 'sign' ? 'sig' : 'att'} tag, or with --new-bundle-format a Sigstore bundle as an OCI 1.1 referrer (cosign 3's default); verify reads cosign's oci-1-1 referrers too`;
  if (name === 'b64' && verb === 'sign-blob') return 'ocipush writes the signature in base64, cosign\'s default (base64 -d gives its DER bytes; verify-blob and cosign read either): drop --b64=false';
  return Object.hasOwn(HINTS, name) ? HINTS[name] : undefined;
}

/**
 * skopeo's, podman's and cosign's names for how a registry is reached, and ocipush's: a user of
 * those tools types them first (`--tls-verify=false`), and "unknown option" alone does not say
 * which of ocipush's two flags is meant; so are skopeo's for which platforms a copy takes.
 */
function otherToolsFlag(name: string, has: (option: string) => boolean, command: string): string | undefined {
  const side = /^(?:(src|dest)-)?tls-verify$/.exec(name);
  if (side) {
    const p = side[1] ? `${side[1]}-` : '';
    if (!has(`${p}insecure`)) return undefined;
    return `skopeo's --${name}=false is --${p}insecure here (any certificate, or plain HTTP when the registry speaks no TLS); localhost needs neither`;
  }
  if (name === 'registry-config' && has('username')) return 'oras\'s --registry-config FILE is DOCKER_CONFIG=DIR here for a DIR/config.json, or REGISTRY_AUTH_FILE=FILE';
  // skopeo copy's platform choice: --override-arch/-os/-variant pick one image, --all keeps the index.
  const override = /^override-(arch|os|variant)$/.exec(name);
  if (override && has('platform')) return `skopeo's --${name} is --platform os/arch[/variant] here (--platform linux/arm64/v8)`;
  if (name === 'all' && ['copy', 'pull', 'push', 'validate'].includes(command)) {
    return `skopeo's --${name} is what ${command} does without --platform: every platform of an index (--platform a,b keeps some)`;
  }
  // Its value is not seen here: each of the three is named, index-only too, which has no counterpart.
  if (name === 'multi-arch' && ['copy', 'pull', 'push', 'validate'].includes(command)) {
    return `skopeo's --multi-arch all is what ${command} does without --platform: every platform of an index (--platform a,b keeps some); --multi-arch system is --platform with this machine's os/arch; index-only has no counterpart: an index goes with its images`;
  }
  const copyFlag = skopeoCopyFlag(name, has, command);
  if (copyFlag) return copyFlag;
  if (name === 'allow-insecure-registry' && has('insecure')) return 'cosign\'s --allow-insecure-registry is --insecure here (accept any certificate)';
  if (name === 'allow-http-registry' && has('plain-http')) return 'cosign\'s --allow-http-registry is --plain-http here';
  return undefined;
}

/**
 * skopeo copy's flags that a script moved to ocipush still carries (`--digestfile`, `--dest-creds`,
 * `--authfile` …), named with what does that here.
 */
function skopeoCopyFlag(name: string, has: (option: string) => boolean, command: string): string | undefined {
  if (name === 'digestfile' && has('digest-file')) return 'skopeo\'s --digestfile is --digest-file here';
  const creds = /^(?:(src|dest)-)?creds$/.exec(name);
  if (creds) {
    const p = creds[1] ? `${creds[1]}-` : '';
    if (!has(`${p}username`) || !has(`${p}password-stdin`)) return undefined;
    return `skopeo's --${name} USER:PASSWORD is --${p}username USER and the password piped to --${p}password-stdin here (a password is never taken as an argument)`;
  }
  if (/^(?:(?:src|dest)-)?authfile$/.test(name) && has('username')) {
    return `skopeo's --${name} FILE is REGISTRY_AUTH_FILE=FILE here (read after the Docker config, for the registries it names), or DOCKER_CONFIG=DIR for a Docker config's directory`;
  }
  if (command !== 'copy') return undefined;
  if (name === 'remove-signatures' && has('referrers')) return 'skopeo\'s --remove-signatures is --no-referrers here (signatures, attestations and SBOMs left behind)';
  if (name === 'preserve-digests') return 'copy always keeps every manifest\'s bytes and digest: drop it';
  if (name === 'format' && !has(name)) return 'skopeo\'s --format v2s2|oci is ocipush mutate SRC DST --format docker|oci here (copy keeps the bytes)';
  return undefined;
}
