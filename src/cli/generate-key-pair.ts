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
    const { OcipushError } = await import('../errors.js');
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
    await writePairExclusive([[keyPath, pair.privateKeyPem, 0o600], [pubPath, pair.publicKeyPem, 0o644]]);
    out.info(`Private key written to ${keyPath}`);
    out.info(`Public key written to ${pubPath}`);
    // Paths in a --json document are absolute, as every command's are (README).
    const { resolve } = await import('node:path');
    out.result(pubPath, { privateKey: resolve(keyPath), publicKey: resolve(pubPath) });
  },
};

/**
 * Writes each file whole under a temp name beside it, then links it under its name: a process
 * killed or interrupted meanwhile never leaves an empty or half key there (which the next run
 * would refuse to overwrite), and a file that appeared meanwhile is never overwritten (a link,
 * unlike a rename, fails on it). The private key's mode is set when it is made: its owner's only.
 */
async function writePairExclusive(files: ReadonlyArray<readonly [path: string, text: string, mode: number]>): Promise<void> {
  const { link, open, rm } = await import('node:fs/promises');
  const { removeKilledTemps, tempNameFor } = await import('../content/atomic.js');
  const { onSignalExit, trackTemp } = await import('../content/cleanup.js');
  const { fromWriteError } = await import('../errors.js');
  const { rmSync } = await import('node:fs');
  const temps = files.map(([path]) => tempNameFor(path));
  const untrack = temps.map((temp) => trackTemp(temp));
  const linked: string[] = [];
  // Interrupted between the links: a pair half made is no pair, and blocks the next run.
  const unlinkAtSignal = onSignalExit(() => { for (const path of linked) rmSync(path, { force: true }); });
  let at = files[0]![0];
  try {
    for (const [i, [path, text, mode]] of files.entries()) {
      at = path;
      await removeKilledTemps(path);
      const fh = await open(temps[i]!, 'wx', mode);
      try {
        await fh.writeFile(text);
        await fh.sync();
      } finally {
        await fh.close();
      }
    }
    for (const [i, [path]] of files.entries()) {
      at = path;
      // Counted before it is made: a signal during the link removes it too.
      linked.push(path);
      await link(temps[i]!, path).catch((err: unknown) => { linked.pop(); throw err; });
    }
  } catch (err) {
    for (const path of linked) await rm(path, { force: true }).catch(() => {});
    throw fromWriteError(err, at, 'cannot write');
  } finally {
    unlinkAtSignal();
    for (const temp of temps) await rm(temp, { force: true }).catch(() => {});
    for (const forget of untrack) forget();
  }
}
