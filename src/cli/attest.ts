import type { Argv } from 'yargs';
import { usageError, type CliCommand } from './command.js';
import type { Output } from './output.js';
import { registryFlags, type RegistryFlags } from './registry-options.js';

interface AttestArgs extends RegistryFlags {
  reference: string;
  key: string;
  predicate: string;
  type: string;
  replace?: boolean;
  newBundleFormat: boolean;
}

export const attestCommand: CliCommand<AttestArgs> = {
  command: 'attest <reference>',
  describe: 'Sign an in-toto statement about an image (DSSE) and store it as cosign does (sha256-<hex>.att) and as an OCI 1.1 referrer',
  builder: (y: Argv) => registryFlags(y
    .positional('reference', { type: 'string', describe: '[docker://]REGISTRY/REPOSITORY[:TAG|@DIGEST], or oci:DIR[:NAME] (a layout, offline)' })
    .option('key', { type: 'string', demandOption: true, describe: 'Private key: cosign.key (COSIGN_PASSWORD), a PKCS#8 PEM file, or env://NAME' })
    .option('predicate', { type: 'string', demandOption: true, describe: 'File: the statement\'s predicate, JSON (any text for --type custom, wrapped as cosign does: {Data, Timestamp}); - for standard input' })
    .option('type', { type: 'string', default: 'custom', describe: 'Predicate type: a URI, or slsaprovenance1, slsaprovenance, spdxjson, cyclonedx, vuln, openvex, custom' })
    .option('replace', { type: 'boolean', describe: 'Replace the image\'s attestations of this predicate type (cosign\'s --replace): out of sha256-<hex>.att, their OCI 1.1 referrers deleted' })
    .option('new-bundle-format', { type: 'boolean', default: false, describe: 'Store the attestation as cosign 3 does by default: a Sigstore bundle (no transparency-log entry) as an OCI 1.1 referrer of the image, not at sha256-<hex>.att' })
    .example('$0 attest localhost:5000/app:1 --key cosign.key --type slsaprovenance1 --predicate provenance.json', ''), { cosign: true }),
  run: async (argv, out: Output) => {
    // Standard input is one stream: whichever is read second found it empty ("no password on standard input").
    // A bundle is a referrer of its own, never in .att: what --replace takes out is not where it goes.
    if (argv.replace && argv.newBundleFormat) throw usageError('--replace takes earlier attestations out of sha256-<hex>.att and their referrers; with --new-bundle-format each attestation is a referrer of its own: give one of the two');
    if (argv.predicate === '-' && argv.passwordStdin) throw usageError('--predicate - and --password-stdin both read standard input: give the predicate as a file, or the password in OCIPUSH_USERNAME/OCIPUSH_PASSWORD or a docker login');
    const { referenceTarget } = await import('../oci/reference.js');
    const { layoutImageName, layoutTarget, registryReference, withLayout } = await import('./repository-ref.js');
    const inLayout = await layoutTarget(argv.reference, 'attest');
    const { predicateTypeUri, predicateFrom, attestImage, MAX_PREDICATE_BYTES } = await import('../supply-chain/attest.js');
    const predicateType = predicateTypeUri(argv.type);
    const { createReadStream } = await import('node:fs');
    const { fromSystemError } = await import('../errors.js');
    // `-` is standard input, as cosign attest --predicate - reads it.
    const fromStdin = argv.predicate === '-';
    const { readStreamUpTo } = await import('../supply-chain/small-file.js');
    // Bounded: a larger predicate could not be verified once attested, and /dev/zero never ends.
    const bytes = await readStreamUpTo(fromStdin ? process.stdin : createReadStream(argv.predicate), MAX_PREDICATE_BYTES)
      .catch((err) => { throw fromSystemError(err, fromStdin ? 'standard input' : argv.predicate, '--predicate: cannot read'); });
    if (bytes === undefined) {
      throw usageError(`--predicate ${argv.predicate}: more than ${MAX_PREDICATE_BYTES / 1024 / 1024} MiB; its signed envelope would be above the 128 MiB that verify-attestation and cosign read of one attestation`);
    }
    const text = bytes.toString('utf8');
    const { resolveBuildTime, formatTime } = await import('../assemble/config.js');
    const time = resolveBuildTime(undefined, process.env.SOURCE_DATE_EPOCH);
    // cosign stamps its generic predicate with the time now; SOURCE_DATE_EPOCH makes it reproducible.
    const stamp = () => formatTime(time.explicit ? time.seconds : Math.floor(Date.now() / 1000));
    const predicate = predicateFrom(argv.type, text, fromStdin ? '-' : argv.predicate, stamp);
    const { loadSigner } = await import('./key-options.js');
    const { checkConcurrency } = await import('./registry-options.js');
    const concurrency = checkConcurrency(argv.concurrency);
    const signer = await loadSigner(argv.key, { pipedPassword: !fromStdin && !argv.passwordStdin });
    const { repositoryText, withSignatureRepository } = await import('./cosign-repository.js');
    if (argv.newBundleFormat) {
      const [{ attestImageBundle }, { attachArtifact, attachToLayout }, { SIGSTORE_BUNDLE_MEDIA_TYPE }] = await Promise.all([
        import('../supply-chain/bundle-sign.js'), import('../supply-chain/attach.js'), import('../supply-chain/sigstore-bundle.js'),
      ]);
      if (inLayout) {
        const result = await withLayout(inLayout, (layout, subject) => attestImageBundle(inLayout.name ?? subject.digest, subject, signer, predicateType, predicate, stamp(), async (s, blob, ann) => (
          (await attachToLayout(layout, s, SIGSTORE_BUNDLE_MEDIA_TYPE, [blob], ann)).manifest.digest
        )));
        out.info(`attested ${layoutImageName(inLayout, result.digest)} (${predicateType}): Sigstore bundle, referrer ${result.referrer} in the layout`);
        out.result(result.digest, result);
        return;
      }
      const source = await registryReference(argv.reference);
      const name = `${source.registry}/${source.repository}`;
      const { signedIdentity } = await import('../supply-chain/simple-signing.js');
      const { result, storedIn } = await withSignatureRepository(source, argv, async ({ image, signatures, storedIn }) => ({
        storedIn,
        result: await attestImageBundle(signedIdentity(source), await image.resolveToRead(referenceTarget(source)), signer, predicateType, predicate, stamp(), async (s, blob, ann) => (
          (await attachArtifact(signatures, s, SIGSTORE_BUNDLE_MEDIA_TYPE, [blob], ann, {}, concurrency)).manifest.digest
        )),
      }));
      out.info(`attested ${name}@${result.digest} (${predicateType}): Sigstore bundle, referrer ${repositoryText(storedIn)}@${result.referrer}`);
      out.result(result.digest, result);
      return;
    }
    if (inLayout) {
      const { attestInLayout } = await import('../supply-chain/layout-attestations.js');
      // The statement's subject is named as a build names its provenance's: by the layout's name for it.
      const result = await withLayout(inLayout, (layout, subject) => attestInLayout(layout, inLayout.name ?? subject.digest, subject, signer, predicateType, predicate, argv.replace === true));
      out.info(`attested ${layoutImageName(inLayout, result.digest)} (${predicateType}): ${result.tag} and referrer ${result.referrer} in the layout${replacedText(result)}`);
      out.result(result.digest, result);
      return;
    }
    const source = await registryReference(argv.reference);
    const name = `${source.registry}/${source.repository}`;
    // The statement names the image's repository, wherever COSIGN_REPOSITORY keeps it.
    const { result, storedIn } = await withSignatureRepository(source, argv, async ({ image, signatures, storedIn }) => ({
      storedIn,
      result: await attestImage(signatures, source, await image.resolveToRead(referenceTarget(source)), signer, predicateType, predicate, argv.replace === true, concurrency),
    }));
    out.info(`attested ${name}@${result.digest} (${predicateType}): ${repositoryText(storedIn)}:${result.tag}, referrer ${result.referrer}${replacedText(result)}`);
    out.result(result.digest, result);
  },
};

/** What --replace took away, for attest's line. */
function replacedText(result: { replaced?: { att: number; referrers: number } }): string {
  if (!result.replaced) return '';
  const { att, referrers } = result.replaced;
  return `; replaced ${att} earlier attestation${att === 1 ? '' : 's'} of the type in .att, ${referrers} referrer${referrers === 1 ? '' : 's'}`;
}
