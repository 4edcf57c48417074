import type { Argv } from 'yargs';
import { toArray, type CliCommand } from './command.js';
import type { Output } from './output.js';
import { registryFlags, type RegistryFlags } from './registry-options.js';

interface VerifyAttestationArgs extends RegistryFlags {
  reference: string | string[];
  key: string;
  type?: string;
  output?: 'json' | 'text';
}

export const verifyAttestationCommand: CliCommand<VerifyAttestationArgs> = {
  command: 'verify-attestation <reference..>',
  describe: 'Check that an image now carries an in-toto attestation signed by a key (of a predicate type)',
  builder: (y: Argv) => registryFlags(y
    .positional('reference', { type: 'string', describe: '[docker://]REGISTRY/REPOSITORY[:TAG|@DIGEST], or oci:DIR[:NAME]; cosign\'s .att and the attestations among its OCI 1.1 referrers; several are checked in turn, as cosign checks them, the first that fails ending the run' })
    .option('key', { type: 'string', demandOption: true, describe: 'Public key (PEM file, or env://NAME)' })
    .option('type', { type: 'string', describe: 'Only attestations of this predicate type (URI or cosign shorthand); without it, one of any type passes (cosign verify-attestation checks only custom then)' })
    // cosign's flag for where to look (its default since cosign 3): both are read whatever it says, so a cosign command line runs as it is.
    .option('new-bundle-format', { type: 'boolean', describe: 'Accepted as cosign takes it; cosign\'s tags and Sigstore bundle referrers are both read' })
    .option('output', { alias: 'o', type: 'string', choices: ['json', 'text'], describe: 'Print each verified DSSE envelope as stored, one a line, as cosign verify-attestation prints them whatever its -o says (… | jq -r .payload | base64 -d); without it, the digest' })
    .example('$0 verify-attestation localhost:5000/app:1 --key cosign.pub --type slsaprovenance1', 'a SLSA provenance signed by the key, or exit 1')
    .example('$0 verify-attestation oci:bundle:app --key cosign.pub', 'offline, in a layout a copy brought the attestations into'), { cosign: true }),
  run: async (argv, out: Output) => {
    const { referenceTarget } = await import('../oci/reference.js');
    const { OcipushError } = await import('../errors.js');
    if (argv.output !== undefined && out.json) throw new OcipushError('EUSAGE', '--json and -o/--output are two formats of the result: give one');
    const { layoutImageName, layoutTarget, registryReference, withLayout } = await import('./repository-ref.js');
    // Each reference is read before any key or registry: a mistyped third is not found after two were checked.
    const targets = await Promise.all(toArray(argv.reference).map(async (reference) => {
      const inLayout = await layoutTarget(reference, 'verify-attestation');
      return { inLayout, source: inLayout ? undefined : await registryReference(reference) };
    }));
    const { predicateTypeUri, verifyAttestations } = await import('../supply-chain/attest.js');
    const { unverifiedReason } = await import('../supply-chain/sign.js');
    const predicateType = argv.type === undefined ? undefined : predicateTypeUri(argv.type);
    const { loadVerifier } = await import('./key-options.js');
    const { verifier } = await loadVerifier(argv.key);
    // One after the other, as cosign verify-attestation IMG1 IMG2: each verified is printed as it is, the first that fails ends the run (exit 1).
    for (const { inLayout, source: ref } of targets) {
      let image: string;
      let verified;
      // Where the attestations were looked for, when not beside the image: the line of a failure names it.
      let elsewhere = '';
      if (inLayout) {
        // Offline: cosign's .att a copy kept, and the attestations a build keeps as referrers.
        const { layoutAttachedStore, layoutAttestationLayers } = await import('../supply-chain/layout-attestations.js');
        verified = await withLayout(inLayout, async (layout, subject) => ({
          digest: subject.digest,
          outcome: await verifyAttestations(layoutAttachedStore(layout, inLayout.text), subject.digest, verifier, predicateType, await layoutAttestationLayers(layout, subject)),
        }));
        image = layoutImageName(inLayout, verified.digest);
      } else {
        // A registry reference, read above.
        const source = ref!;
        // cosign's .att, and the attestations among the image's OCI 1.1 referrers, read at once.
        const { registryAttestationLayers } = await import('../supply-chain/registry-attestations.js');
        const { withSignatureRepository } = await import('./cosign-repository.js');
        // In COSIGN_REPOSITORY when it is set, as cosign reads them.
        verified = await withSignatureRepository(source, argv, async ({ image: repo, signatures, signaturesClient, storedIn }) => {
          const subject = await repo.resolveToRead(referenceTarget(source));
          elsewhere = signatures === repo ? '' : ` in ${storedIn.registry}/${storedIn.repository} (COSIGN_REPOSITORY)`;
          return { digest: subject.digest, outcome: await verifyAttestations(signatures, subject.digest, verifier, predicateType, registryAttestationLayers(signaturesClient, signatures, subject)) };
        });
        image = `${source.registry}/${source.repository}@${verified.digest}`;
      }
      const { digest, outcome } = verified;
      if (outcome.verified.length === 0) {
        const why = unverifiedReason(outcome, 'attestation', elsewhere);
        throw new OcipushError('EINVALID', `verify-attestation ${image}: ${why}`, { digest });
      }
      out.info(`verified ${image}: ${outcome.verified.length} attestation${outcome.verified.length === 1 ? '' : 's'} (${[...new Set(outcome.verified.map((v) => v.predicateType))].join(', ')})`);
      if (argv.output !== undefined) {
        const { cosignAttestationOutput } = await import('./cosign-output.js');
        out.document(cosignAttestationOutput(outcome.verified));
        continue;
      }
      out.result(digest, { digest, verified: outcome.verified.map((v) => v.statement) });
    }
  },
};
