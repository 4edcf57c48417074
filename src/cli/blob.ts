import type { Argv } from 'yargs';
import { usageError, type CliCommand } from './command.js';
import type { Output } from './output.js';
import { registryFlags, type RegistryFlags } from './registry-options.js';

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
    const { registryReference, withRepository } = await import('./repository-ref.js');
    const ref = await registryReference(argv.reference);
    if (!ref.digest) throw usageError(`${argv.reference}: name the blob by digest (REPOSITORY@sha256:…)`);
    const digest = ref.digest;
    // `-o -` is stdout, as for export, rootfs and artifact get (and oras blob fetch --output -).
    const output = argv.output === '-' ? undefined : argv.output;
    if (out.json && !output) throw usageError('--json needs -o FILE: stdout carries the blob');
    const [{ openFileSink, stdoutSink }, { fromWriteError }] = await Promise.all([import('../archive/sink.js'), import('../errors.js')]);
    const { pipeline } = await import('node:stream/promises');
    const { installSignalCleanup } = await import('../content/cleanup.js');
    installSignalCleanup();
    const size = await withRepository(ref, argv, async (repository, client) => {
      const { blobSize } = await import('../registry/blob-info.js');
      const size = await blobSize(client, repository.repositoryName, digest);
      const sink = output ? await openFileSink(output) : stdoutSink();
      try {
        const stream = await repository.fetch({ mediaType: 'application/octet-stream', digest, size });
        await pipeline(stream, sink.stream, { end: Boolean(output) });
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
