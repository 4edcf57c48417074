import type { Argv } from 'yargs';
import type { CliCommand } from './command.js';
import type { Output } from './output.js';

interface SignBlobArgs {
  file: string;
  key: string;
  outputSignature?: string;
}

export const signBlobCommand: CliCommand<SignBlobArgs> = {
  command: 'sign-blob <file>',
  describe: 'Sign a file with a key, as cosign sign-blob: the base64 signature to stdout or a file',
  builder: (y: Argv) => y
    .positional('file', { type: 'string', describe: 'The file to sign (read once, streamed), or - for standard input' })
    .option('key', { type: 'string', demandOption: true, describe: 'Private key: cosign.key (COSIGN_PASSWORD), a PKCS#8 PEM file, or env://NAME' })
    .option('output-signature', { type: 'string', describe: 'Write the base64 signature to this file (renamed into place when whole) instead of stdout' })
    .example('$0 sign-blob app.tar.gz --key cosign.key --output-signature app.tar.gz.sig', 'what cosign verify-blob --key cosign.pub --signature app.tar.gz.sig checks'),
  run: async (argv, out: Output) => {
    const { loadSigner } = await import('./key-options.js');
    const signer = await loadSigner(argv.key);
    const { signFile } = await import('../supply-chain/blob-signature.js');
    const signed = await signFile(argv.file, signer);
    const name = argv.file === '-' ? 'standard input' : argv.file;
    const signature = signed.signature.toString('base64');
    if (argv.outputSignature !== undefined) {
      const { writeFileAtomic } = await import('../content/atomic.js');
      const { writeError } = await import('../archive/sink.js');
      await writeFileAtomic(argv.outputSignature, `${signature}\n`).catch((err: unknown) => { throw writeError(err, argv.outputSignature!); });
      out.info(`signed ${name} (${signed.digest}): signature written to ${argv.outputSignature}`);
    } else {
      out.info(`signed ${name} (${signed.digest})`);
    }
    // cosign prints the signature itself; with a file named, stdout says where it went.
    out.result(argv.outputSignature === undefined ? signature : argv.outputSignature, { file: argv.file, digest: signed.digest, signature });
  },
};
