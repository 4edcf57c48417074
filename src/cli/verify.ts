import type { Argv } from 'yargs';
import { toArray, type CliCommand } from './command.js';
import type { Output } from './output.js';
import { registryFlags, type RegistryFlags } from './registry-options.js';

interface VerifyArgs extends RegistryFlags {
  reference: string | string[];
  key: string;
  annotation?: string[];
  output?: 'json' | 'text';
}

export const verifyCommand: CliCommand<VerifyArgs> = {
  command: 'verify <reference..>',
  describe: 'Check that the image a reference points at now carries a valid cosign signature by a key (cosign\'s .sig or its OCI 1.1 signature referrer, or a cosign 3 Sigstore bundle referrer)',
  builder: (y: Argv) => registryFlags(y
    .positional('reference', { type: 'string', describe: '[docker://]REGISTRY/REPOSITORY[:TAG|@DIGEST], or oci:DIR[:NAME] (a layout a copy brought signatures into); several are checked in turn, as cosign verify checks them, the first that fails ending the run' })
    .option('key', { type: 'string', demandOption: true, describe: 'Public key (PEM PUBLIC KEY file, or env://NAME)' })
    .option('annotation', { alias: ['a', 'annotations'], type: 'string', array: true, describe: 'KEY=VALUE the signature\'s payload must claim in its "optional" section (repeatable; a=1,b=2 is two, as sign -a and cosign read it; --annotations, as cosign spells it)' })
    // cosign's flag for where to look (its default since cosign 3): both are read whatever it says, so a cosign command line runs as it is.
    .option('new-bundle-format', { type: 'boolean', describe: 'Accepted as cosign takes it; cosign\'s tags and Sigstore bundle referrers are both read' })
    .option('output', { alias: 'o', type: 'string', choices: ['json', 'text'], describe: 'Print the verified payloads as cosign verify -o prints them: json, an array of them (cosign\'s default: cosign verify … | jq \'.[0].optional\'), or text, each as signed, one a line; without it, the digest' })
    .example('$0 verify localhost:5000/app:1 --key cosign.pub', 'exit 0 when app:1 is signed by the key')
    .example('$0 verify localhost:5000/app:1 --key cosign.pub -a git-sha=$GIT_SHA', 'signed by the key for this commit')
    .example('$0 verify localhost:5000/app:1 localhost:5000/worker:1 --key cosign.pub', 'both signed, or exit 1 at the first that is not'), { cosign: true }),
  run: async (argv, out: Output) => {
    const { referenceTarget, formatReference, DOCKER_HUB } = await import('../oci/reference.js');
    const { OcipushError } = await import('../errors.js');
    if (argv.output !== undefined && out.json) throw new OcipushError('EUSAGE', '--json and -o/--output are two formats of the result: give one');
    const { layoutImageName, layoutTarget, registryReference, withLayout } = await import('./repository-ref.js');
    const references = toArray(argv.reference);
    // Each reference is read before any key or registry: a mistyped third is not found after two were checked.
    const targets = await Promise.all(references.map(async (reference) => {
      const inLayout = await layoutTarget(reference, 'verify');
      return { inLayout, source: inLayout ? undefined : await registryReference(reference) };
    }));
    const { loadVerifier } = await import('./key-options.js');
    const { verifier, what: keyName } = await loadVerifier(argv.key);
    const { unverifiedReason, verifyImage } = await import('../supply-chain/sign.js');
    const { cosignAnnotations } = await import('./cosign-annotations.js');
    const annotations = cosignAnnotations(argv.annotation);
    // One after the other, as cosign verify IMG1 IMG2: each verified is printed as it is, the first that fails ends the run (exit 1).
    for (const { inLayout, source } of targets) {
      let image: string;
      // What cosign's output names a bundle's signature for: the reference as given (go-containerregistry's ref.Name()).
      let given: string;
      let outcome;
      // Where the signatures were looked for, when not beside the image: the line of a failure names it.
      let elsewhere = '';
      if (inLayout) {
        // Offline, as cosign verify --local-image: the signatures the layout holds under cosign's names.
        const { layoutAttachedStore, layoutReferrerEnvelopes } = await import('../supply-chain/layout-attestations.js');
        outcome = await withLayout(inLayout, (layout, root) => verifyImage(layoutAttachedStore(layout, inLayout.text), root.digest, verifier, annotations, {
          found: layoutReferrerEnvelopes(layout, root), identity: inLayout.text,
        }));
        image = layoutImageName(inLayout, outcome.digest);
        given = inLayout.text;
      } else {
        // A registry reference, read above.
        const ref = source!;
        // cosign's .sig, and the signatures and Sigstore bundles cosign stores among the image's referrers, read at once,
        // in COSIGN_REPOSITORY when it is set, as cosign reads them.
        const { registryReferrerEnvelopes } = await import('../supply-chain/registry-attestations.js');
        const { withSignatureRepository } = await import('./cosign-repository.js');
        outcome = await withSignatureRepository(ref, argv, async ({ image: repo, signatures, signaturesClient, storedIn }) => {
          const subject = await repo.resolveToRead(referenceTarget(ref));
          elsewhere = signatures === repo ? '' : ` in ${storedIn.registry}/${storedIn.repository} (COSIGN_REPOSITORY)`;
          return verifyImage(signatures, subject.digest, verifier, annotations, { found: registryReferrerEnvelopes(signaturesClient, signatures, subject), identity: `${ref.registry}/${ref.repository}` });
        });
        image = `${ref.registry}/${ref.repository}@${outcome.digest}`;
        given = formatReference({ ...ref, registry: ref.registry === DOCKER_HUB ? 'index.docker.io' : ref.registry });
      }
      if (outcome.verified.length === 0) {
        const why = unverifiedReason(outcome, 'signature', elsewhere);
        throw new OcipushError('EINVALID', `verify ${image}: ${why}`, { digest: outcome.digest });
      }
      out.info(`verified ${image}: ${outcome.verified.length} valid signature${outcome.verified.length === 1 ? '' : 's'} by ${keyName}`);
      if (argv.output !== undefined) {
        const { cosignVerifyOutput } = await import('./cosign-output.js');
        out.document(cosignVerifyOutput(outcome.verified, argv.output, given));
        continue;
      }
      out.result(outcome.digest, { digest: outcome.digest, verified: outcome.verified.map((v) => ({ critical: { identity: { 'docker-reference': v.dockerReference }, image: { 'docker-manifest-digest': v.dockerManifestDigest }, type: 'cosign container image signature' }, optional: v.optional, layer: v.layer, ...(v.bundle ? { bundle: true } : {}) })) });
    }
  },
};
