import type { Argv } from 'yargs';
import type { CliCommand } from './command.js';
import type { Output } from './output.js';
import { registryFlags, type RegistryFlags } from './registry-options.js';

interface VerifyAttestationArgs extends RegistryFlags {
  reference: string;
  key: string;
  type?: string;
}

export const verifyAttestationCommand: CliCommand<VerifyAttestationArgs> = {
  command: 'verify-attestation <reference>',
  describe: 'Check that an image now carries an in-toto attestation signed by a key (of a predicate type)',
  builder: (y: Argv) => registryFlags(y
    .positional('reference', { type: 'string', describe: '[docker://]REGISTRY/REPOSITORY[:TAG|@DIGEST]' })
    .option('key', { type: 'string', demandOption: true, describe: 'Public key (PEM file, or env://NAME)' })
    .option('type', { type: 'string', describe: 'Only attestations of this predicate type (URI or cosign shorthand)' })),
  run: async (argv, out: Output) => {
    const { parseReference, referenceTarget } = await import('../oci/reference.js');
    const { OcipushError } = await import('../errors.js');
    const { stripTransport } = await import('./registry-options.js');
    const source = parseReference(stripTransport(argv.reference));
    const { predicateTypeUri, verifyAttestations } = await import('../supply-chain/attest.js');
    const predicateType = argv.type === undefined ? undefined : predicateTypeUri(argv.type);
    const { loadVerifier } = await import('./key-options.js');
    const { verifier } = await loadVerifier(argv.key);
    const { clientFromFlags } = await import('./registry-options.js');
    const { Repository } = await import('../registry/repository.js');
    const client = await clientFromFlags(source.registry, argv);
    let outcome;
    let digest;
    try {
      const repo = new Repository(client, source.repository);
      digest = (await repo.resolve(referenceTarget(source))).digest;
      outcome = await verifyAttestations(repo, digest, verifier, predicateType);
      await client.close();
    } catch (err) {
      await client.destroy();
      throw err;
    }
    const image = `${source.registry}/${source.repository}@${digest}`;
    if (outcome.verified.length === 0) {
      const why = outcome.total === 0 ? 'no attestations found' : `none of ${outcome.total} attestation${outcome.total === 1 ? '' : 's'} verifies: ${[...new Set(outcome.rejected)].join('; ')}`;
      throw new OcipushError('EINVALID', `verify-attestation ${image}: ${why}`, { digest });
    }
    out.info(`verified ${image}: ${outcome.verified.length} attestation${outcome.verified.length === 1 ? '' : 's'} (${[...new Set(outcome.verified.map((v) => v.predicateType))].join(', ')})`);
    out.result(digest, { digest, verified: outcome.verified.map((v) => v.statement) });
  },
};
