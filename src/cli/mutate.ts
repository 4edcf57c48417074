import type { Argv } from 'yargs';
import { parseCommandLine, parseKeyValues, toArray, usageError, type CliCommand } from './command.js';
import type { Output } from './output.js';
import type { RegistryFlags } from './registry-options.js';
import { changedImageArgs } from './changed-image.js';
import type { ImageChanges, MutatedImage } from '../assemble/mutate.js';

interface MutateArgs extends RegistryFlags {
  source: string;
  destination?: string;
  label?: string[];
  annotation?: string[];
  env?: string[];
  entrypoint?: string;
  cmd?: string;
  workdir?: string;
  user?: string;
  expose?: string[];
  format?: 'oci' | 'docker';
  digestFile?: string;
  dryRun?: boolean;
  sign?: boolean;
  key?: string;
}

export const mutateCommand: CliCommand<MutateArgs> = {
  command: 'mutate <source> [destination]',
  describe: 'Change the labels, environment, entrypoint … of an image (every platform of an index) and its annotations, without moving a layer',
  builder: (y: Argv) => changedImageArgs(y, (y) => y
    .option('label', { alias: 'l', type: 'string', array: true, describe: 'KEY=VALUE image label, added or replaced (repeatable)' })
    .option('annotation', { alias: 'a', type: 'string', array: true, describe: 'KEY=VALUE annotation of the manifest, or of the index (repeatable)' })
    .option('env', { alias: 'e', type: 'string', array: true, describe: 'KEY=VALUE in the environment, replaced where it is set (repeatable)' })
    .option('entrypoint', { type: 'string', describe: 'Entrypoint: a JSON array, or words split at spaces (resets an inherited cmd, as docker does)' })
    .option('cmd', { type: 'string', describe: 'Cmd: a JSON array, or words split at spaces' })
    .option('workdir', { alias: 'w', type: 'string', describe: 'Working directory of the container' })
    .option('user', { type: 'string', describe: 'User (and group) the container runs as: UID[:GID] or a name' })
    .option('expose', { type: 'string', array: true, describe: 'PORT[/tcp|udp|sctp] added to the exposed ports (repeatable)' })
    .option('format', { type: 'string', choices: ['oci', 'docker'], describe: 'Media types of the result: OCI, or Docker v2 schema 2 (the same config and layer bytes; as skopeo copy --format)' })
    .example('$0 mutate registry.example.com/app:1.4 --label org.opencontainers.image.revision=$GIT_SHA', 'label every platform of app:1.4 in place')
    .example('$0 mutate oci:build:app registry.example.com/app:1.4 --env MODE=production', 'change the environment on the way to a registry')
    .example('$0 mutate docker-archive:app.tar oci:out:app --format oci', 'a docker save tarball as an OCI image')),
  run: async (argv, out: Output) => {
    const changes = changesFromFlags(argv);
    const { hasChanges } = await import('../assemble/mutate.js');
    if (!hasChanges(changes)) throw usageError('mutate: nothing to change; give --label, --annotation, --env, --entrypoint, --cmd, --workdir, --user, --expose or --format');
    const { parseEndpoint } = await import('./endpoints.js');
    const source = await parseEndpoint(argv.source);
    const destination = argv.destination === undefined ? undefined : await parseEndpoint(argv.destination);
    const { checkArguments, writeChanged, signChanged, reportChanged, writtenBy, notWritten } = await import('./changed-image.js');
    const signer = await checkArguments(source, destination, argv);
    const { withCopyContext } = await import('./copy.js');
    // The changed image has a new digest: the signatures and SBOMs of the old one are not its own.
    await withCopyContext(argv, out, source, destination ?? source, { referrers: false }, async (context) => {
      const { openSource } = await import('./endpoints.js');
      const src = await openSource(source, { connect: (r) => context.clients.connect('src', r) });
      const { mutateImage } = await import('../assemble/mutate.js');
      let mutated: MutatedImage;
      try {
        mutated = await mutateImage(src.storage, src.root, src.rootBytes, changes, src.name);
      } catch (err) {
        await src.close();
        throw err;
      }
      const target = destination ?? source;
      if (argv.dryRun) {
        await src.close();
        await reportChanged(out, src, mutated, notWritten(source, destination), 'mutated', { target, signatures: undefined });
        return;
      }
      const written = await writeChanged(src, source, destination, mutated, context);
      if (argv.digestFile) {
        const { writeFileAtomic } = await import('../content/atomic.js');
        await writeFileAtomic(argv.digestFile, mutated.root.digest);
      }
      const signatures = await signChanged(signer, target, mutated.root.digest, context);
      await reportChanged(out, src, mutated, writtenBy(written), 'mutated', { target, signatures });
    });
  },
};

function changesFromFlags(argv: MutateArgs): ImageChanges {
  return {
    run: {
      labels: parseKeyValues(argv.label, 'label'),
      env: toArray(argv.env),
      expose: toArray(argv.expose),
      ...(argv.entrypoint !== undefined ? { entrypoint: parseCommandLine(argv.entrypoint, 'entrypoint') } : {}),
      ...(argv.cmd !== undefined ? { cmd: parseCommandLine(argv.cmd, 'cmd') } : {}),
      ...(argv.workdir !== undefined ? { workdir: argv.workdir } : {}),
      ...(argv.user !== undefined ? { user: argv.user } : {}),
    },
    annotations: parseKeyValues(argv.annotation, 'annotation'),
    ...(argv.format !== undefined ? { format: argv.format } : {}),
  };
}
