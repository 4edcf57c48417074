import type { Argv } from 'yargs';
import type { CliCommand } from './command.js';
import type { Output } from './output.js';

interface VerifyBlobArgs {
  file: string;
  key: string;
  signature?: string;
  bundle?: string;
}

export const verifyBlobCommand: CliCommand<VerifyBlobArgs> = {
  command: 'verify-blob <file>',
  describe: 'Check a file\'s signature by a key, as cosign verify-blob: exit 0 only when it verifies',
  builder: (y: Argv) => y
    .positional('file', { type: 'string', describe: 'The file the signature is of (streamed), or - for standard input' })
    .option('key', { type: 'string', demandOption: true, describe: 'Public key (PEM PUBLIC KEY file, or env://NAME)' })
    .option('signature', { type: 'string', describe: 'The base64 signature, or a file holding it (base64, as sign-blob and cosign sign-blob write it, or DER, as openssl dgst -sign writes it)' })
    .option('bundle', { type: 'string', describe: 'Or the bundle sign-blob --bundle and cosign sign-blob --bundle write (a Sigstore bundle, or cosign 2\'s); checked with --key, its transparency-log entries are not (with --signature too, the two hold the same signature)' })
    // cosign's flag for which of the two a bundle is: both are read whatever it says, so a cosign command line runs as it is.
    .option('new-bundle-format', { type: 'boolean', describe: 'Accepted as cosign takes it; either bundle format is read' })
    .example('$0 verify-blob app.tar.gz --key cosign.pub --signature app.tar.gz.sig', 'exit 0 when the signature is of app.tar.gz by the key')
    .example('$0 verify-blob app.tar.gz --key cosign.pub --bundle app.tar.gz.bundle', 'the same, from a bundle'),
  run: async (argv, out: Output) => {
    const { OcipushError } = await import('../errors.js');
    if (argv.signature === undefined && argv.bundle === undefined) throw new OcipushError('EUSAGE', 'verify-blob needs --signature or --bundle');
    const { loadVerifier } = await import('./key-options.js');
    const { verifier, what } = await loadVerifier(argv.key);
    const { readSignatureArgument, verifyFile } = await import('../supply-chain/blob-signature.js');
    let bundled: import('../supply-chain/blob-bundle.js').BundledSignature;
    if (argv.bundle !== undefined) {
      const { readBundleArgument } = await import('../supply-chain/blob-bundle.js');
      bundled = await readBundleArgument(argv.bundle);
      // cosign 2's sign-blob --bundle B --output-signature S writes one signature to both, and its verify-blob takes both flags.
      if (argv.signature !== undefined && !(await readSignatureArgument(argv.signature)).equals(bundled.signature)) {
        throw new OcipushError('EUSAGE', `verify-blob: --signature ${argv.signature} and --bundle ${argv.bundle} hold different signatures: give the one to check`);
      }
    } else {
      bundled = { signature: await readSignatureArgument(argv.signature!) };
    }
    const checked = await verifyFile(argv.file, bundled.signature, verifier, bundled.digest?.algorithm);
    const name = argv.file === '-' ? 'standard input' : argv.file;
    if (!checked.valid) throw new OcipushError('EINVALID', `verify-blob ${name} (${checked.digest}): the signature is not of this file by ${what}`, { digest: checked.digest });
    // The bundle's digest is a hint the signature does not cover; it must still be this file's (as sigstore-go checks it).
    if (bundled.digest && !bundled.digest.value.equals(checked.also!)) {
      throw new OcipushError('EINVALID', `verify-blob ${name} (${checked.digest}): the bundle's message digest (${bundled.digest.name}) is not this file's`, { digest: checked.digest });
    }
    out.info(`verified ${name} (${checked.digest}): signed by ${what}`);
    out.result(checked.digest, { file: argv.file, digest: checked.digest, verified: true });
  },
};
