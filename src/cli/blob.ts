import type { Argv } from 'yargs';
import { usageError, type CliCommand } from './command.js';
import type { Output } from './output.js';
import { registryFlags, type RegistryFlags } from './registry-options.js';
import { refuseEmptyOutput, writesToStdout } from './output-file.js';

interface BlobArgs extends RegistryFlags {
  reference: string;
  output?: string;
}

export const blobCommand: CliCommand<BlobArgs> = {
  command: 'blob <reference>',
  describe: 'Write one blob (streamed, verified against its digest) to stdout or a file',
  builder: (y: Argv) => registryFlags(y
    .positional('reference', { type: 'string', describe: 'REGISTRY/REPOSITORY@sha256:…' })
    .option('output', { alias: 'o', type: 'string', describe: 'Write to this file (it appears only once complete and verified), or - for stdout (the default)' })
    .example('$0 blob localhost:5000/app@sha256:3b4… -o layer.tar.gz', 'one layer')),
  run: async (argv, out: Output) => {
    refuseEmptyOutput(argv.output, 'a file');
    const { registryReference, withRepository } = await import('./repository-ref.js');
    const ref = await registryReference(argv.reference);
    if (!ref.digest) throw usageError(`${argv.reference}: name the blob by digest (REPOSITORY@sha256:…)`);
    const digest = ref.digest;
    // `-o -` is stdout, as for export, rootfs and artifact get (and oras blob fetch --output -).
    const output = argv.output === '-' ? undefined : argv.output;
    // A terminal is not refused here: a config or manifest is shown there (textOnly).
    const onStdout = await writesToStdout(output, out.json, 'the blob');
    const [{ openFileSink, stdoutSink }, { fromWriteError, OcipushError }] = await Promise.all([import('../archive/sink.js'), import('../errors.js')]);
    const { pipeline } = await import('node:stream/promises');
    const { installSignalCleanup } = await import('../content/cleanup.js');
    installSignalCleanup();
    const size = await withRepository(ref, argv, async (repository, client) => {
      const { blobSize } = await import('../registry/blob-info.js');
      const size = await blobSize(client, repository.repositoryName, digest).catch(async (err: unknown) => {
        if (!(err instanceof OcipushError && err.code === 'ENOTFOUND')) throw err;
        // A digest crane digest, ocipush digest or a tag's Docker-Content-Digest gives is a manifest's,
        // which a registry keeps apart from its blobs (distribution answers 404 on the blob endpoint).
        const manifest = await repository.resolve(digest).catch(() => undefined);
        if (manifest) throw new OcipushError('ENOTFOUND', `${err.message}: the digest is a manifest's (${manifest.mediaType}), which ocipush manifest ${argv.reference} prints`, { digest });
        throw err;
      });
      const sink = output ? await openFileSink(output) : stdoutSink();
      try {
        const stream = await repository.fetch({ mediaType: 'application/octet-stream', digest, size });
        if (onStdout && process.stdout.isTTY) await pipeline(stream, await textOnly(), sink.stream, { end: false });
        else await pipeline(stream, sink.stream, { end: !onStdout });
        await sink.commit();
      } catch (err) {
        await sink.abort();
        throw sink.path ? fromWriteError(err, sink.path) : err;
      }
      return size;
    });
    if (output) {
      out.info(`wrote ${digest} (${size} bytes) to ${output}`);
      const { resolve } = await import('node:path');
      if (out.json) out.result('', { reference: argv.reference, digest, size, output: resolve(output) });
    }
  },
};

/**
 * On a terminal, a config or a manifest (JSON) is shown, but a layer's gzip or zstd would be a
 * screenful of bytes whose escape sequences can leave the terminal unusable: as export and rootfs
 * refuse a terminal, the blob is refused once its first bytes show it is not text, before any is written.
 */
async function textOnly(): Promise<import('node:stream').Transform> {
  const { Transform } = await import('node:stream');
  let seen = false;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      if (seen) return done(null, chunk);
      seen = true;
      // Controls other than tab, newline and carriage return: what git's and less's binary checks look for.
      const binary = chunk.subarray(0, 8000).some((b) => (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) || b === 0x7f);
      if (binary) return done(usageError('refusing to write a binary blob to a terminal: name a file with -o FILE, or pipe the output'));
      done(null, chunk);
    },
  });
}
