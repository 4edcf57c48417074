import type { Argv } from 'yargs';
import { parseKeyValues, type CliCommand } from './command.js';
import type { Output } from './output.js';
import { registryFlags, type RegistryFlags } from './registry-options.js';

interface SignArgs extends RegistryFlags {
  reference: string;
  key: string;
  recursive?: boolean;
  annotation?: string[];
}

export const signCommand: CliCommand<SignArgs> = {
  command: 'sign <reference>',
  describe: 'Sign an image by digest with a key, stored as cosign stores it (tag sha256-<hex>.sig)',
  builder: (y: Argv) => registryFlags(y
    .positional('reference', { type: 'string', describe: '[docker://]REGISTRY/REPOSITORY[:TAG|@DIGEST]' })
    .option('key', { type: 'string', demandOption: true, describe: 'Private key: cosign.key (COSIGN_PASSWORD), a PKCS#8 PEM file, or env://NAME' })
    .option('recursive', { type: 'boolean', describe: 'Also sign every manifest of an index' })
    .option('annotation', { alias: 'a', type: 'string', array: true, describe: 'KEY=VALUE claim in the payload\'s "optional" section (repeatable)' })
    .example('$0 sign localhost:5000/app:1 --key cosign.key', 'signs the digest app:1 points at')),
  run: async (argv, out: Output) => {
    const { referenceTarget, formatReference } = await import('../oci/reference.js');
    const { registryReference, withRepository } = await import('./repository-ref.js');
    const source = await registryReference(argv.reference);
    const annotations = parseKeyValues(argv.annotation, 'annotation');
    const { loadSigner } = await import('./key-options.js');
    const signer = await loadSigner(argv.key);
    const { signImage } = await import('../supply-chain/sign.js');
    const signed = await withRepository(source, argv, (repo) => signImage(repo, source, referenceTarget(source), signer, { recursive: argv.recursive, annotations }));
    const { reportSignatures } = await import('./key-options.js');
    reportSignatures(out, source, signed);
    out.result(signed.map((s) => s.digest).join('\n'), { reference: formatReference(source), signatures: signed });
  },
};
