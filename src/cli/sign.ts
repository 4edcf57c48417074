import type { Argv } from 'yargs';
import { usageError, type CliCommand } from './command.js';
import type { Output } from './output.js';
import { registryFlags, type RegistryFlags } from './registry-options.js';

interface SignArgs extends RegistryFlags {
  reference: string;
  key: string;
  signContainerIdentity?: string | string[];
  recursive?: boolean;
  annotation?: string[];
  newBundleFormat: boolean;
}

export const signCommand: CliCommand<SignArgs> = {
  command: 'sign <reference>',
  describe: 'Sign an image by digest with a key, stored as cosign stores it (tag sha256-<hex>.sig)',
  builder: (y: Argv) => registryFlags(y
    .positional('reference', { type: 'string', describe: '[docker://]REGISTRY/REPOSITORY[:TAG|@DIGEST], or oci:DIR[:NAME] (with --sign-container-identity)' })
    .option('key', { type: 'string', demandOption: true, describe: 'Private key: cosign.key (COSIGN_PASSWORD), a PKCS#8 PEM file, or env://NAME' })
    .option('recursive', { type: 'boolean', describe: 'Also sign every manifest under an index (a nested index\'s too, as cosign)' })
    .option('annotation', { alias: ['a', 'annotations'], type: 'string', array: true, describe: 'KEY=VALUE claim in the payload\'s "optional" section (repeatable; a=1,b=2 is two, as cosign reads -a; --annotations, as cosign spells it)' })
    .option('sign-container-identity', { type: 'string', array: true, describe: 'REGISTRY/REPOSITORY the payload names (critical.identity.docker-reference), as cosign\'s flag; several (repeated, or a,b as cosign reads it): one signature each; required to sign in a layout (not with --new-bundle-format, whose statement names the digest only)' })
    .option('new-bundle-format', { type: 'boolean', default: false, describe: 'Store the signature as cosign 3 does by default: a Sigstore bundle (DSSE, cosign\'s sign statement, no transparency-log entry) as an OCI 1.1 referrer of the image, not at sha256-<hex>.sig' })
    .example('$0 sign localhost:5000/app:1 --key cosign.key', 'signs the digest app:1 points at')
    .example('$0 sign oci:out:app --key cosign.key --sign-container-identity registry.example.com/app', 'signs in the layout, offline; push and copy take the signature along')
    .example('$0 sign localhost:5000/app:1 --key cosign.key --new-bundle-format', 'as cosign 3 sign --key cosign.key --tlog-upload=false; cosign verify --insecure-ignore-tlog reads it'), { cosign: true }),
  run: async (argv, out: Output) => {
    const { referenceTarget, formatReference } = await import('../oci/reference.js');
    const { layoutTarget, registryReference } = await import('./repository-ref.js');
    const inLayout = await layoutTarget(argv.reference, 'sign');
    const { loadSigner, repositoryIdentities, reportLayoutSignatures, reportSignatures, signInLayout } = await import('./key-options.js');
    const identity = argv.signContainerIdentity === undefined ? undefined : await repositoryIdentities(argv.signContainerIdentity);
    if (argv.newBundleFormat) {
      // cosign drops the identity from a bundle unsaid; the signature would not name the repository asked for.
      if (identity) throw usageError('--sign-container-identity names the repository in a cosign .sig payload; a --new-bundle-format signature names the digest only: give one of the two');
      return signBundles(argv, inLayout, out);
    }
    if (inLayout && !identity) throw usageError(`${argv.reference}: a signature names the repository it is for: give it with --sign-container-identity REGISTRY/REPOSITORY`);
    const { cosignAnnotations } = await import('./cosign-annotations.js');
    const annotations = cosignAnnotations(argv.annotation);
    const signer = await loadSigner(argv.key, { pipedPassword: !argv.passwordStdin });
    const { checkConcurrency } = await import('./registry-options.js');
    const options = { recursive: argv.recursive, annotations, concurrency: checkConcurrency(argv.concurrency) };
    if (inLayout) {
      const signed = await signInLayout(inLayout, identity!, signer, options);
      reportLayoutSignatures(out, inLayout.text, undefined, signed);
      out.result([...new Set(signed.map((s) => s.digest))].join('\n'), { reference: inLayout.text, signatures: signed });
      return;
    }
    const source = await registryReference(argv.reference);
    const { signImage } = await import('../supply-chain/sign.js');
    const { withSignatureRepository } = await import('./cosign-repository.js');
    // The payload names the image's repository (or the identity given), wherever COSIGN_REPOSITORY keeps the signature.
    const { signed, storedIn } = await withSignatureRepository(source, argv, async ({ image, signatures, storedIn }) => ({
      signed: await signImage(signatures, identity ?? source, referenceTarget(source), signer, { ...options, from: image }), storedIn,
    }));
    reportSignatures(out, source, signed, storedIn);
    // A digest once, however many repositories its signatures name.
    out.result([...new Set(signed.map((s) => s.digest))].join('\n'), { reference: formatReference(source), signatures: signed });
  },
};

/** `sign --new-bundle-format`: cosign 3's bundles, as referrers of each image signed (in the registry, or the layout's index.json). */
async function signBundles(argv: SignArgs, inLayout: import('./repository-ref.js').LayoutTarget | undefined, out: Output): Promise<void> {
  const [{ referenceTarget, formatReference }, { registryReference }, { loadSigner, reportLayoutSignatures, reportSignatures, signBundlesInLayout, signBundlesInRepository }] = await Promise.all([
    import('../oci/reference.js'), import('./repository-ref.js'), import('./key-options.js'),
  ]);
  const { cosignAnnotations } = await import('./cosign-annotations.js');
  const { checkConcurrency } = await import('./registry-options.js');
  const options = { recursive: argv.recursive, annotations: cosignAnnotations(argv.annotation), concurrency: checkConcurrency(argv.concurrency) };
  const signer = await loadSigner(argv.key, { pipedPassword: !argv.passwordStdin });
  if (inLayout) {
    const signed = await signBundlesInLayout(inLayout, signer, options);
    reportLayoutSignatures(out, inLayout.text, undefined, signed);
    out.result(signed.map((s) => s.digest).join('\n'), { reference: inLayout.text, signatures: signed });
    return;
  }
  const source = await registryReference(argv.reference);
  const { withSignatureRepository } = await import('./cosign-repository.js');
  const { signed, storedIn } = await withSignatureRepository(source, argv, async ({ image, signatures, storedIn }) => ({
    signed: await signBundlesInRepository(signatures, referenceTarget(source), signer, { ...options, from: image }), storedIn,
  }));
  reportSignatures(out, source, signed, storedIn);
  out.result(signed.map((s) => s.digest).join('\n'), { reference: formatReference(source), signatures: signed });
}
