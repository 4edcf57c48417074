import type { Argv } from 'yargs';
import { usageError, type CliCommand } from './command.js';
import type { Output } from './output.js';

interface GenerateKeyPairArgs {
  outputPrefix: string;
}

export const generateKeyPairCommand: CliCommand<GenerateKeyPairArgs> = {
  command: 'generate-key-pair',
  describe: 'Write a cosign-compatible ECDSA P-256 key pair: PREFIX.key (encrypted with COSIGN_PASSWORD) and PREFIX.pub',
  builder: (y: Argv) => y
    // cosign's own name for it is --output-key-prefix: a cosign command line works as it is.
    .option('output-prefix', { alias: 'output-key-prefix', type: 'string', default: 'cosign', describe: 'Path prefix of the two files' })
    .example('COSIGN_PASSWORD=… $0 generate-key-pair --output-prefix release', 'writes release.key and release.pub'),
  run: async (argv, out: Output) => {
    const { writeFile } = await import('node:fs/promises');
    const { fromWriteError, OcipushError } = await import('../errors.js');
    const { generateKeyPair } = await import('../supply-chain/keys.js');
    const { keyPassword } = await import('./key-options.js');
    // An unset "$PREFIX", or a directory (keys/): the files would be the hidden .key and .pub.
    if (argv.outputPrefix === '' || /[\\/]$/.test(argv.outputPrefix)) {
      throw usageError(`--output-prefix ${JSON.stringify(argv.outputPrefix)}: name the files' prefix, e.g. ${argv.outputPrefix || ''}cosign (writes ${argv.outputPrefix || ''}cosign.key and ${argv.outputPrefix || ''}cosign.pub)`);
    }
    const keyPath = `${argv.outputPrefix}.key`;
    const pubPath = `${argv.outputPrefix}.pub`;
    const { existsSync } = await import('node:fs');
    for (const path of [keyPath, pubPath]) {
      if (existsSync(path)) throw new OcipushError('EUSAGE', `${path} already exists: remove it or choose another --output-prefix`);
    }
    const password = await keyPassword({ confirm: true, what: keyPath });
    let pair;
    try {
      pair = await generateKeyPair(password);
    } finally {
      password.fill(0);
    }
    // Exclusive creation: never overwrite a key that appeared meanwhile; the private key is readable by its owner only.
    await writeFile(keyPath, pair.privateKeyPem, { mode: 0o600, flag: 'wx' }).catch((err) => { throw fromWriteError(err, keyPath, 'cannot write'); });
    await writeFile(pubPath, pair.publicKeyPem, { mode: 0o644, flag: 'wx' }).catch((err) => { throw fromWriteError(err, pubPath, 'cannot write'); });
    out.info(`Private key written to ${keyPath}`);
    out.info(`Public key written to ${pubPath}`);
    // Paths in a --json document are absolute, as every command's are (README).
    const { resolve } = await import('node:path');
    out.result(pubPath, { privateKey: resolve(keyPath), publicKey: resolve(pubPath) });
  },
};
