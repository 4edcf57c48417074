import type { Argv } from 'yargs';
import type { CliCommand } from './command.js';
import type { Output } from './output.js';

interface SignBlobArgs {
  file: string;
  key: string;
  outputSignature?: string;
  bundle?: string;
  newBundleFormat: boolean;
}

export const signBlobCommand: CliCommand<SignBlobArgs> = {
  command: 'sign-blob <file>',
  describe: 'Sign a file with a key, as cosign sign-blob: the base64 signature to stdout or a file, or a bundle',
  builder: (y: Argv) => y
    .positional('file', { type: 'string', describe: 'The file to sign (read once, streamed), or - for standard input' })
    .option('key', { type: 'string', demandOption: true, describe: 'Private key: cosign.key (COSIGN_PASSWORD), a PKCS#8 PEM file, or env://NAME' })
    .option('output-signature', { type: 'string', describe: 'Write the base64 signature to this file (renamed into place when whole) instead of stdout' })
    .option('bundle', { type: 'string', describe: 'Write the signature as cosign 3 sign-blob --bundle does (a Sigstore bundle v0.3, without a transparency-log entry) to this file' })
    // cosign 2.4+'s flag: true (cosign 3's default) is the Sigstore bundle; false, the bundle cosign 2's verify-blob --bundle reads.
    .option('new-bundle-format', { type: 'boolean', default: true, describe: 'With --bundle: a Sigstore bundle (cosign 3); =false writes cosign 2\'s {"base64Signature", "cert"}, which cosign 2 verify-blob --bundle reads' })
    .example('$0 sign-blob app.tar.gz --key cosign.key --output-signature app.tar.gz.sig', 'what cosign verify-blob --key cosign.pub --signature app.tar.gz.sig checks')
    .example('$0 sign-blob app.tar.gz --key cosign.key --bundle app.tar.gz.bundle', 'what cosign verify-blob --key cosign.pub --bundle app.tar.gz.bundle --insecure-ignore-tlog checks'),
  run: async (argv, out: Output) => {
    // Checked before the key is opened and the file read: a wrong path never leaves one of the two files written.
    const { checkWritableFile } = await import('./output-file.js');
    if (argv.outputSignature !== undefined) await checkWritableFile(argv.outputSignature, 'output-signature');
    if (argv.bundle !== undefined) await checkWritableFile(argv.bundle, 'bundle');
    const { loadSigner } = await import('./key-options.js');
    const signer = await loadSigner(argv.key, { pipedPassword: argv.file !== '-' });
    const { signFile } = await import('../supply-chain/blob-signature.js');
    const signed = await signFile(argv.file, signer);
    const name = argv.file === '-' ? 'standard input' : argv.file;
    const signature = signed.signature.toString('base64');
    const { writeFileAtomic } = await import('../content/atomic.js');
    const { fromWriteError } = await import('../errors.js');
    const written: string[] = [];
    if (argv.outputSignature !== undefined) {
      await writeFileAtomic(argv.outputSignature, `${signature}\n`).catch((err: unknown) => { throw fromWriteError(err, argv.outputSignature!); });
      written.push(`signature written to ${argv.outputSignature}`);
    }
    if (argv.bundle !== undefined) {
      const { blobBundle, legacyBlobBundle } = await import('../supply-chain/blob-bundle.js');
      const publicKey = signer.verifier!().description;
      const bundle = argv.newBundleFormat ? blobBundle(signed.signature, signed.digest, publicKey) : legacyBlobBundle(signed.signature, publicKey);
      await writeFileAtomic(argv.bundle, bundle).catch((err: unknown) => { throw fromWriteError(err, argv.bundle!); });
      written.push(`bundle written to ${argv.bundle}`);
    }
    out.info(`signed ${name} (${signed.digest})${written.length > 0 ? `: ${written.join(', ')}` : ''}`);
    // cosign prints the signature itself; with a file named, stdout says where it went, unless
    // that file is stdout (--bundle /dev/stdout > x.bundle): the line would land in its bytes.
    const where = argv.outputSignature ?? argv.bundle;
    const toStdout = (await Promise.all([argv.outputSignature, argv.bundle].map(isStandardOutput))).some(Boolean);
    const { resolve } = await import('node:path');
    out.result(where === undefined ? signature : toStdout ? '' : where, { file: argv.file, digest: signed.digest, signature, ...(argv.bundle !== undefined ? { bundle: resolve(argv.bundle) } : {}) });
  },
};

/** Whether `path` is the file stdout writes to (/dev/stdout, /dev/fd/1, the file or pipe stdout is redirected to). */
async function isStandardOutput(path: string | undefined): Promise<boolean> {
  if (path === undefined) return false;
  const { stat } = await import('node:fs/promises');
  const { fstat } = await import('node:fs');
  const [file, stdout] = await Promise.all([
    stat(path).catch(() => undefined),
    new Promise<import('node:fs').Stats | undefined>((done) => fstat(1, (err, stats) => done(err ? undefined : stats))),
  ]);
  return file !== undefined && stdout !== undefined && file.dev === stdout.dev && file.ino === stdout.ino;
}
