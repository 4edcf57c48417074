import type { Argv } from 'yargs';
import type { CliCommand } from './command.js';
import type { Output } from './output.js';

interface VerifyBlobArgs {
  file: string;
  key: string;
  signature: string;
}

export const verifyBlobCommand: CliCommand<VerifyBlobArgs> = {
  command: 'verify-blob <file>',
  describe: 'Check a file\'s signature by a key, as cosign verify-blob: exit 0 only when it verifies',
  builder: (y: Argv) => y
    .positional('file', { type: 'string', describe: 'The file the signature is of (streamed), or - for standard input' })
    .option('key', { type: 'string', demandOption: true, describe: 'Public key (PEM PUBLIC KEY file, or env://NAME)' })
    .option('signature', { type: 'string', demandOption: true, describe: 'The base64 signature, or a file holding it (base64, as sign-blob and cosign sign-blob write it, or DER, as openssl dgst -sign writes it)' })
    .example('$0 verify-blob app.tar.gz --key cosign.pub --signature app.tar.gz.sig', 'exit 0 when the signature is of app.tar.gz by the key'),
  run: async (argv, out: Output) => {
    const { loadVerifier } = await import('./key-options.js');
    const { verifier, what } = await loadVerifier(argv.key);
    const { readSignatureArgument, verifyFile } = await import('../supply-chain/blob-signature.js');
    const signature = await readSignatureArgument(argv.signature);
    const { OcipushError } = await import('../errors.js');
    const checked = await verifyFile(argv.file, signature, verifier);
    const name = argv.file === '-' ? 'standard input' : argv.file;
    if (!checked.valid) throw new OcipushError('EINVALID', `verify-blob ${name} (${checked.digest}): the signature is not of this file by ${what}`, { digest: checked.digest });
    out.info(`verified ${name} (${checked.digest}): signed by ${what}`);
    out.result(checked.digest, { file: argv.file, digest: checked.digest, verified: true });
  },
};
