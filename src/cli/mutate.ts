import type { Argv } from 'yargs';
import { parseCommandLine, parseKeyValues, toArray, usageError, type CliCommand } from './command.js';
import type { Output } from './output.js';
import { changedImageArgs, type ChangedImageArgs } from './changed-image.js';
import type { ImageChanges } from '../assemble/mutate.js';
import { checkPlatformList, isAllPlatforms, unlistedPlatformOption } from './platform-option.js';

interface MutateArgs extends ChangedImageArgs {
  label?: string[];
  annotation?: string[];
  env?: string[];
  entrypoint?: string;
  cmd?: string;
  workdir?: string;
  user?: string;
  expose?: string[];
  format?: 'oci' | 'docker';
  platform?: string;
  unlistedPlatform?: boolean;
}

export const mutateCommand: CliCommand<MutateArgs> = {
  command: 'mutate <source> [destination]',
  describe: 'Change the labels, environment, entrypoint … of an image (every platform of an index) and its annotations, without moving a layer',
  builder: (y: Argv) => changedImageArgs(y, (y) => unlistedPlatformOption(y)
    .option('label', { alias: 'l', type: 'string', array: true, describe: 'KEY=VALUE image label, added or replaced (repeatable)' })
    .option('annotation', { alias: 'a', type: 'string', array: true, describe: 'KEY=VALUE annotation of the manifest, or of the index (repeatable)' })
    .option('env', { alias: 'e', type: 'string', array: true, describe: 'KEY=VALUE in the environment, replaced where it is set (repeatable)' })
    .option('entrypoint', { type: 'string', describe: 'Entrypoint: a JSON array, or words split at spaces (resets an inherited cmd, as docker does)' })
    .option('cmd', { type: 'string', describe: 'Cmd: a JSON array, or words split at spaces' })
    .option('workdir', { alias: 'w', type: 'string', describe: 'Working directory of the container' })
    .option('user', { type: 'string', describe: 'User (and group) the container runs as: UID[:GID] or a name' })
    .option('expose', { type: 'string', array: true, describe: 'PORT[-PORT][/tcp|udp|sctp] added to the exposed ports (repeatable)' })
    .option('format', { type: 'string', choices: ['oci', 'docker'], describe: 'Media types of the result: OCI, or Docker v2 schema 2 (the same config and layer bytes; as skopeo copy --format)' })
    .option('platform', { type: 'string', describe: 'Of an index, change only the images for this os/arch[/variant] (several, comma-separated); the others keep their bytes' })
    .example('$0 mutate registry.example.com/app:1.4 --label org.opencontainers.image.revision=$GIT_SHA', 'label every platform of app:1.4 in place')
    .example('$0 mutate oci:build:app registry.example.com/app:1.4 --env MODE=production', 'change the environment on the way to a registry')
    .example('$0 mutate docker-archive:app.tar oci:out:app --format oci', 'a docker save tarball as an OCI image')),
  run: async (argv, out: Output) => {
    // --platform all (crane's) is every image, as without --platform.
    if (isAllPlatforms(argv.platform)) delete argv.platform;
    if (argv.platform !== undefined && argv.format !== undefined) throw usageError('--format changes every image of an index (one media type family); it does not go with --platform');
    const changes = changesFromFlags(argv);
    const { hasChanges } = await import('../assemble/mutate.js');
    if (!hasChanges(changes)) throw usageError('mutate: nothing to change; give --label, --annotation, --env, --entrypoint, --cmd, --workdir, --user, --expose or --format');
    const { runChange } = await import('./changed-image.js');
    await runChange(argv, out, {
      verb: 'mutated',
      make: async (src) => {
        const { mutateImage } = await import('../assemble/mutate.js');
        return { changed: await mutateImage(src.storage, src.root, src.rootBytes, changes, src.name) };
      },
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
    // Each checked against the spec's values before any request, as every verb's --platform.
    ...(argv.platform !== undefined ? { platforms: checkPlatformList(argv.platform, argv.unlistedPlatform) } : {}),
  };
}
