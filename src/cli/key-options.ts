import { OcipushError } from '../errors.js';
import { signedIdentity } from '../supply-chain/simple-signing.js';
import type { Signer, Verifier } from '../supply-chain/signer.js';
import type { SignedManifest, SignOptions } from '../supply-chain/sign.js';
import type { SignedBundle } from '../supply-chain/bundle-sign.js';
import type { LayoutTarget } from './repository-ref.js';
import type { Reference } from '../oci/reference.js';
import type { Digest } from '../oci/digest.js';
import type { RegistryClient } from '../registry/http.js';
import type { Output } from './output.js';
import type { ImageLocation } from '../transports/parse.js';
import type { RepositoryName } from '../supply-chain/signature-repository.js';

/** What `--sign --key KEY [--sign-container-identity REGISTRY/REPOSITORY | --new-bundle-format]` asks of a verb that writes an image. */
export interface Signing {
  signer: Signer;
  /** The repository the payload names; by default the registry repository written to (required for a layout, unless `bundle`). */
  identity?: SignedIdentity;
  /** `--new-bundle-format`: a Sigstore bundle as an OCI 1.1 referrer, as cosign 3 signs, not `sha256-<hex>.sig`. */
  bundle?: boolean;
  /** The verb's --concurrency, which the signature's blobs keep to as the image's did. */
  concurrency?: number;
  /** COSIGN_REPOSITORY, read for a registry destination: the signature is kept there, as `sign` keeps it. */
  storedIn?: RepositoryName;
}

/** A signature made: cosign's `.sig`, or a Sigstore bundle referrer (`--new-bundle-format`). */
export type MadeSignature = SignedManifest | SignedBundle;

/**
 * The signing `--sign` asks for, read before anything is written: a key that cannot be read or
 * opened (a wrong password) stops the command while the destination is as it was. A registry
 * destination is signed in its repository; a layout, under the name cosign would give the
 * signature, for the repository `--sign-container-identity` names; an archive holds no signature.
 */
export async function signingFromFlags(
  argv: { sign?: boolean; key?: string; signContainerIdentity?: string | string[]; newBundleFormat?: boolean; concurrency?: number }, destination: { transport: string; text: string },
): Promise<Signing | undefined> {
  if (!argv.sign) {
    if (argv.key !== undefined) throw new OcipushError('EUSAGE', '--key goes with --sign (to sign the image written)');
    if (argv.signContainerIdentity !== undefined) throw new OcipushError('EUSAGE', '--sign-container-identity goes with --sign (the repository the signature names)');
    if (argv.newBundleFormat) throw new OcipushError('EUSAGE', '--new-bundle-format goes with --sign (how the signature is stored)');
    return undefined;
  }
  if (argv.key === undefined) throw new OcipushError('EUSAGE', '--sign needs --key (the private key to sign with)');
  if (destination.transport !== 'registry' && destination.transport !== 'oci') {
    throw new OcipushError('EUSAGE', `--sign: ${destination.text} is an archive; signatures are kept in a registry or an OCI layout`);
  }
  // A bundle's statement names the digest alone: a repository for it to name would be ignored, unsaid.
  if (argv.newBundleFormat && argv.signContainerIdentity !== undefined) {
    throw new OcipushError('EUSAGE', '--sign-container-identity names the repository in a cosign .sig payload; a --new-bundle-format signature names the digest only: give one of the two');
  }
  const identities = argv.signContainerIdentity === undefined ? undefined : await repositoryIdentities(argv.signContainerIdentity);
  // One signature of what the verb wrote, which its push and copy carry: several are sign's.
  if (identities && identities.length > 1) {
    throw new OcipushError('EUSAGE', `--sign-container-identity ${identities.map((i) => `${i.registry}/${i.repository}`).join(',')}: --sign makes one signature, for one repository; sign the image written for each with ocipush sign IMAGE --sign-container-identity, as cosign does`);
  }
  const identity = identities?.[0];
  if (destination.transport === 'oci' && !identity && !argv.newBundleFormat) {
    throw new OcipushError('EUSAGE', `--sign: ${destination.text} is a layout, and a signature names the repository it is for: give it with --sign-container-identity REGISTRY/REPOSITORY (or sign with --new-bundle-format, which names the digest only)`);
  }
  // Read now, as sign reads it: a COSIGN_REPOSITORY that is no repository stops before anything is written.
  const storedIn = destination.transport === 'registry' ? await (await import('./cosign-repository.js')).cosignRepository() : undefined;
  return {
    signer: await loadSigner(argv.key), ...(identity ? { identity } : {}), ...(argv.newBundleFormat ? { bundle: true } : {}),
    ...(argv.concurrency !== undefined ? { concurrency: argv.concurrency } : {}), ...(storedIn ? { storedIn } : {}),
  };
}

/**
 * Signs `digest` in `reference`'s repository through `client` (the verb's own), as `signing`
 * asks, or in COSIGN_REPOSITORY's when it is set, as `sign` and cosign keep it: on another
 * registry through a client `connect` makes for it (closed after).
 */
export async function signWritten(
  client: RegistryClient, reference: Reference, digest: Digest, signing: Signing, connect: (registry: string) => Promise<RegistryClient>,
): Promise<MadeSignature[]> {
  const [{ withSignatureRepositories }, { signImage }] = await Promise.all([import('../supply-chain/signature-repository.js'), import('../supply-chain/sign.js')]);
  return withSignatureRepositories<MadeSignature[]>(reference, signing.storedIn, connect, ({ image, signatures }) => {
    const options = { from: image, ...(signing.concurrency === undefined ? {} : { concurrency: signing.concurrency }) };
    return signing.bundle ? signBundlesInRepository(signatures, digest, signing.signer, options) : signImage(signatures, signing.identity ?? reference, digest, signing.signer, options);
  }, client);
}

/** The image `target` names in a layout, signed as `signing` asks: a `.sig` for its identity, or a bundle referrer. */
export async function signLayoutImage(target: LayoutTarget, signing: Signing): Promise<MadeSignature[]> {
  return signing.bundle ? signBundlesInLayout(target, signing.signer) : signInLayout(target, signing.identity!, signing.signer);
}

/** cosign stamps a bundle's referrer with the time it signs; SOURCE_DATE_EPOCH makes it reproducible. */
async function bundleCreated(): Promise<string> {
  const { resolveBuildTime, formatTime } = await import('../assemble/config.js');
  const time = resolveBuildTime(undefined, process.env.SOURCE_DATE_EPOCH);
  return formatTime(time.explicit ? time.seconds : Math.floor(Date.now() / 1000));
}

/** `--new-bundle-format` in a registry: what `target` names signed as cosign 3 signs, each bundle a referrer there. */
export async function signBundlesInRepository(
  repo: import('../registry/repository.js').Repository, target: string, signer: Signer, options: SignOptions = {},
): Promise<SignedBundle[]> {
  const [{ signImageBundles }, { attachArtifact }, { SIGSTORE_BUNDLE_MEDIA_TYPE }] = await Promise.all([
    import('../supply-chain/bundle-sign.js'), import('../supply-chain/attach.js'), import('../supply-chain/sigstore-bundle.js'),
  ]);
  return signImageBundles(options.from ?? repo, target, signer, async (subject, blob, annotations) => (
    (await attachArtifact(repo, subject, SIGSTORE_BUNDLE_MEDIA_TYPE, [blob], annotations, {}, options.concurrency)).manifest.digest
  ), { ...options, created: await bundleCreated() });
}

/** `--new-bundle-format` in a layout: each bundle a referrer in its index.json, which push and copy carry. */
export async function signBundlesInLayout(target: LayoutTarget, signer: Signer, options: SignOptions = {}): Promise<SignedBundle[]> {
  const [{ withLayout }, { layoutAttachedStore }, { signImageBundles }, { attachToLayout }, { SIGSTORE_BUNDLE_MEDIA_TYPE }] = await Promise.all([
    import('./repository-ref.js'), import('../supply-chain/layout-attestations.js'), import('../supply-chain/bundle-sign.js'),
    import('../supply-chain/attach.js'), import('../supply-chain/sigstore-bundle.js'),
  ]);
  const created = await bundleCreated();
  return withLayout(target, (layout, root) => signImageBundles(layoutAttachedStore(layout, target.text), root.digest, signer, async (subject, blob, annotations) => (
    (await attachToLayout(layout, subject, SIGSTORE_BUNDLE_MEDIA_TYPE, [blob], annotations)).manifest.digest
  ), { ...options, created }));
}

/**
 * `--sign` after a copy (copy, mutate, rebase, flatten, index create): the root written to
 * `destination`, in its registry repository through the copy's own client, or in its layout.
 */
export async function signDestination(
  clients: { connect(side: 'dest', registry: string): Promise<RegistryClient>; elsewhere(side: 'dest', registry: string): Promise<RegistryClient> },
  destination: ImageLocation, digest: Digest, signing: Signing,
): Promise<MadeSignature[]> {
  if (destination.transport === 'oci') return signLayoutImage({ path: destination.path, name: digest, text: destination.text }, signing);
  if (destination.transport !== 'registry') throw new OcipushError('EUSAGE', `--sign: ${destination.text} is an archive`);
  // COSIGN_REPOSITORY on another registry: a client of its own (signWritten closes it), with that registry's own login.
  return signWritten(await clients.connect('dest', destination.reference.registry), destination.reference, digest, signing, (registry) => clients.elsewhere('dest', registry));
}

/** The lines of what signDestination made: as `sign` says them for a registry, or for a layout. */
export function reportDestinationSignatures(out: Output, destination: ImageLocation, signing: Signing, signed: readonly MadeSignature[]): void {
  if (destination.transport === 'registry') reportSignatures(out, destination.reference, signed, signing.storedIn);
  else reportLayoutSignatures(out, destination.text, signing.identity, signed);
}

/**
 * One line per signature made: `signed REPO@DIGEST: REPO:sha256-<hex>.sig`, or `: Sigstore bundle,
 * referrer REPO@DIGEST`; the second REPO is `storedIn` when COSIGN_REPOSITORY keeps them there.
 */
export function reportSignatures(out: Output, reference: Reference, signed: readonly MadeSignature[], storedIn?: { registry: string; repository: string }): void {
  const name = `${reference.registry}/${reference.repository}`;
  const where = storedIn ? `${storedIn.registry}/${storedIn.repository}` : name;
  for (const s of signed) {
    if ('bundle' in s) out.info(`signed ${name}@${s.digest}: Sigstore bundle, referrer ${where}@${s.signatureManifest}`);
    else out.info(`signed ${name}@${s.digest}${s.identity === signedIdentity(reference) ? '' : ` for ${s.identity}`}${s.appended ? '' : ' (this signature was already there)'}: ${where}:${s.tag}`);
  }
}

/** A repository a signature names, whatever registry it is stored in. */
export interface SignedIdentity { registry: string; repository: string }

/**
 * `--sign-container-identity` as cosign reads it (a pflag string slice: repeatable, and each use
 * comma-separated values, `--sign-container-identity a,b`), each a repository the payload names.
 */
export async function repositoryIdentities(values: unknown): Promise<SignedIdentity[]> {
  const [{ toArray }, { csvRecord }] = await Promise.all([import('./command.js'), import('./cosign-annotations.js')]);
  const texts = toArray(values).flatMap((v) => csvRecord(String(v)));
  if (texts.length === 0) throw new OcipushError('EUSAGE', '--sign-container-identity: give a REGISTRY/REPOSITORY');
  const identities: SignedIdentity[] = [];
  for (const text of texts) {
    const identity = await repositoryIdentity(text);
    if (!identities.some((i) => i.registry === identity.registry && i.repository === identity.repository)) identities.push(identity);
  }
  return identities;
}

/** `--sign-container-identity REGISTRY/REPOSITORY` (cosign's flag): the repository the payload names; a tag or digest is refused, the payload names the digest itself. */
export async function repositoryIdentity(text: string): Promise<SignedIdentity> {
  const { parseReference } = await import('../oci/reference.js');
  const ref = parseReference(text);
  if (ref.tag !== undefined || ref.digest !== undefined) throw new OcipushError('EUSAGE', `--sign-container-identity ${text}: a repository, without a tag or digest`);
  return { registry: ref.registry, repository: ref.repository };
}

/**
 * Signs the image `target` names in a layout, for `identity`'s repository, stored as a registry
 * stores it (the `sha256-<hex>.sig` name in index.json): push and copy take it along.
 */
export async function signInLayout(
  target: LayoutTarget, identity: SignedIdentity | readonly SignedIdentity[], signer: Signer, options: import('../supply-chain/sign.js').SignOptions = {},
): Promise<SignedManifest[]> {
  const [{ withLayout }, { layoutAttachedStore }, { signImage }] = await Promise.all([
    import('./repository-ref.js'), import('../supply-chain/layout-attestations.js'), import('../supply-chain/sign.js'),
  ]);
  return withLayout(target, (layout, root) => signImage(layoutAttachedStore(layout, target.text), identity, root.digest, signer, options));
}

/** One line per signature made in a layout: `signed oci:DIR@DIGEST for REPO (sha256-<hex>.sig in the layout)`, or `: Sigstore bundle, referrer DIGEST in the layout`. */
export function reportLayoutSignatures(out: Output, text: string, identity: SignedIdentity | undefined, signed: readonly MadeSignature[]): void {
  for (const s of signed) {
    const image = text.endsWith(s.digest) ? text : `${text}@${s.digest}`;
    if ('bundle' in s) out.info(`signed ${image}: Sigstore bundle, referrer ${s.signatureManifest} in the layout`);
    else out.info(`signed ${image} for ${s.identity ?? `${identity!.registry}/${identity!.repository}`} (${s.tag} in the layout${s.appended ? '' : ', already there'})`);
  }
}

/**
 * `--key KEY` (a cosign key, a PEM file or env://NAME) as a signer, its password asked for as
 * cosign does. `pipedPassword`: standard input is no data of the command, so a password piped to
 * it is read, as cosign reads it.
 */
export async function loadSigner(keyArgument: string, options: { pipedPassword?: boolean } = {}): Promise<Signer> {
  const { readKeyArgument, parsePrivateKey } = await import('../supply-chain/keys.js');
  const { KeySigner } = await import('../supply-chain/signer.js');
  const key = await readKeyArgument(keyArgument, '--key');
  let newline = false;
  const password = async () => {
    const bytes = await keyPassword({ what: key.what, piped: options.pipedPassword });
    newline = process.env.COSIGN_PASSWORD === undefined && bytes.at(-1) === 0x0a;
    return bytes;
  };
  try {
    return new KeySigner(await parsePrivateKey(key.text, key.what, password));
  } catch (err) {
    // cosign takes the newline `echo` adds as part of the password too; the line says so, as cosign does not.
    if (newline && err instanceof OcipushError && err.code === 'EAUTH') throw new OcipushError('EAUTH', `${err.message}; the password piped ends in a newline, which is part of it (printf %s "$PASSWORD" pipes it without)`);
    throw err;
  }
}

/** No password is longer: more on standard input is data piped by mistake, not read further. */
const MAX_PIPED_PASSWORD = 64 * 1024;

/** `--key KEY` (a PEM public key file or env://NAME) as a verifier, with what names the key in messages. */
export async function loadVerifier(keyArgument: string): Promise<{ verifier: Verifier; what: string }> {
  const { readKeyArgument, parsePublicKey } = await import('../supply-chain/keys.js');
  const { KeyVerifier } = await import('../supply-chain/signer.js');
  const key = await readKeyArgument(keyArgument, '--key');
  return { verifier: new KeyVerifier(parsePublicKey(key.text, key.what)), what: key.what };
}

/**
 * The password of a cosign key: COSIGN_PASSWORD when it is set (an empty value is a valid,
 * empty password, as cosign reads it); with `piped`, what is piped to standard input when it is
 * no terminal, byte for byte as cosign's `io.ReadAll(os.Stdin)` takes it (`printf %s "$PW" |
 * ocipush sign …`; `echo` adds a newline, which is then part of it); else a prompt on the
 * terminal with echo off. Never printed, never logged; the caller zeroes the buffer when done.
 */
export async function keyPassword(options: { confirm?: boolean; what: string; piped?: boolean }): Promise<Buffer> {
  const env = process.env.COSIGN_PASSWORD;
  if (env !== undefined) return Buffer.from(env, 'utf8');
  if (options.piped && !process.stdin.isTTY) {
    const { readStreamUpTo } = await import('../supply-chain/small-file.js');
    const piped = await readStreamUpTo(process.stdin, MAX_PIPED_PASSWORD);
    if (piped === undefined) throw new OcipushError('EUSAGE', `${options.what}: standard input holds more than ${MAX_PIPED_PASSWORD / 1024} KiB, which is no password (set COSIGN_PASSWORD, or pipe the password alone)`);
    // Nothing piped (stdin is /dev/null, or closed): no password given, so the terminal is asked, if there is one.
    if (piped.length > 0) return piped;
  }
  const { openTerminal, promptHidden } = await import('./terminal.js');
  const terminal = process.stderr.isTTY ? await openTerminal() : undefined;
  if (!terminal) {
    throw new OcipushError('EUSAGE', `${options.what}: needs a password: set COSIGN_PASSWORD (it may be empty)${options.piped ? ', pipe it to standard input' : ''} or run on a terminal`);
  }
  try {
    const first = await promptHidden(terminal.input, `Enter password for ${options.what}: `);
    if (options.confirm) {
      const again = await promptHidden(terminal.input, 'Enter password again: ');
      const same = first.equals(again);
      again.fill(0);
      if (!same) {
        first.fill(0);
        throw new OcipushError('EUSAGE', 'the two passwords differ');
      }
    }
    return first;
  } finally {
    terminal.close();
  }
}
