import { once } from 'node:events';
import type { Argv } from 'yargs';
import { usageError, type CliCommand } from './command.js';
import { count, type Output } from './output.js';
import { registryFlags, type RegistryFlags } from './registry-options.js';
import { checkPlatform, unlistedPlatformOption } from './platform-option.js';

interface SbomArgs extends RegistryFlags {
  image: string;
  sbomFormat: string;
  output?: string;
  platform?: string;
  unlistedPlatform?: boolean;
  created?: string;
  attach?: boolean;
}

export const sbomCommand: CliCommand<SbomArgs> = {
  command: 'sbom <image>',
  describe: 'Write the SBOM (SPDX 2.3 or CycloneDX 1.6) of an image in a registry or a layout, streaming its layers',
  builder: (y: Argv) => registryFlags(unlistedPlatformOption(y)
    .positional('image', { type: 'string', describe: 'REGISTRY/REPOSITORY[:TAG|@DIGEST], oci:DIR[:TAG], oci-archive:FILE, docker-archive:FILE' })
    // syft's names for the same two formats (syft -o spdx-json) are taken too.
    .option('sbom-format', { type: 'string', choices: ['spdx', 'cyclonedx', 'spdx-json', 'cyclonedx-json'], default: 'spdx', describe: 'SPDX 2.3 JSON or CycloneDX 1.6 JSON' })
    .option('output', { alias: 'o', type: 'string', describe: 'Write the SBOM to this file, or - for standard output (the default)' })
    .option('platform', { type: 'string', describe: 'From a multi-platform index, this os/arch[/variant]' })
    .option('created', { type: 'string', describe: 'The SBOM\'s time (RFC 3339 or unix seconds); default SOURCE_DATE_EPOCH, else the image\'s creation time' })
    .option('attach', { type: 'boolean', describe: 'Also push the SBOM to the registry as an OCI 1.1 artifact referring to the image' })
    .example('$0 sbom localhost:5000/app:1 -o app.spdx.json', 'an SPDX document of every file and package in app:1')),
  run: async (argv, out: Output) => {
    // Checked before a layer is read or --attach pushes anything: a wrong -o never fails after the work, or after the registry got the SBOM.
    if (argv.output !== undefined && argv.output !== '-') await (await import('./output-file.js')).checkWritableFile(argv.output, 'output');
    const format = argv.sbomFormat.startsWith('cyclonedx') ? 'cyclonedx' : 'spdx';
    const { resolveBuildTime } = await import('../assemble/config.js');
    const time = resolveBuildTime(argv.created, process.env.SOURCE_DATE_EPOCH);
    const created = time.explicit ? new Date(time.seconds * 1000) : undefined;
    const { parsePlatform } = await import('../oci/descriptor.js');
    const platform = argv.platform === undefined ? undefined : parsePlatform(checkPlatform(argv.platform, argv.unlistedPlatform)!);
    const { openImage } = await import('../transports/open.js');
    const { platformManifest, readManifest } = await import('../image/load.js');
    const { isIndex } = await import('../oci/manifest.js');
    const { noManifestFor } = await import('../image/platform.js');
    const { prepareSbom } = await import('../supply-chain/sbom/index.js');
    const { clientFromFlags, checkConcurrency } = await import('./registry-options.js');
    // keep false: a lazy layout's base layers are streamed from their registry, not stored in it (a reading verb writes nothing there).
    const opened = await openImage(argv.image, { connect: (registry) => clientFromFlags(registry, argv), keep: false });
    let sbom;
    let desc;
    let attachedDigest: string | undefined;
    try {
      // Before a layer is read: the scan of a large image is not made only to be refused.
      if (argv.attach && opened.location.transport !== 'registry') throw usageError('--attach pushes to a registry: give a registry reference');
      const root = await readManifest(opened.storage, opened.root, { name: opened.name });
      // One image of another platform than --platform's is refused, as digest, config and pull refuse it: its SBOM is not the one asked for.
      desc = isIndex(root.parsed) || platform
        ? await platformManifest(opened.storage, root, { name: opened.name, ...(platform ? { platform } : {}), noMatch: noManifestFor(opened.name), requirePlatform: true })
        : root.descriptor;
      const location = opened.location;
      const repository = location.transport === 'registry' ? `${location.reference.registry}/${location.reference.repository}` : undefined;
      sbom = await prepareSbom(opened.storage, desc, { format, name: opened.name, ...(repository ? { repository } : {}), created });
      if (argv.attach && location.transport === 'registry') {
        const prepared = sbom;
        const { Repository } = await import('../registry/repository.js');
        const { attachArtifact, madeBlob } = await import('../supply-chain/attach.js');
        const client = await clientFromFlags(location.reference.registry, argv);
        try {
          const blob = madeBlob(() => prepared.chunks(), prepared.mediaType, `the SBOM of ${opened.name}`);
          const attached = await attachArtifact(new Repository(client, location.reference.repository), desc, prepared.mediaType, [blob], {}, {}, checkConcurrency(argv.concurrency));
          out.info(`attached the SBOM as ${repository}@${attached.manifest.digest}`);
          attachedDigest = attached.manifest.digest;
          await client.close();
        } catch (err) {
          await client.destroy();
          throw err;
        }
      }
    } finally {
      await opened.close();
    }
    // Made again for the output, chunk by chunk, as it was for the registry: never whole in memory.
    const chunks = sbom.chunks();
    if (argv.output !== undefined && argv.output !== '-') {
      // Under a temp name, renamed when whole: a full disk leaves the previous SBOM, not half a new one.
      const { writeFileAtomic } = await import('../content/atomic.js');
      await writeFileAtomic(argv.output, chunks);
    } else {
      for (const chunk of chunks) if (!process.stdout.write(chunk)) await once(process.stdout, 'drain');
    }
    out.info(`SBOM of ${opened.name} (${desc.digest}): ${count(sbom.files.length, 'file')}, ${count(sbom.packages.length, 'package')} (${format === 'spdx' ? 'SPDX 2.3' : 'CycloneDX 1.6'})`);
    // Without -o the SBOM itself is the output, --json or not; with -o a script is told what was written, as blob -o --json tells it.
    if (out.json && argv.output !== undefined && argv.output !== '-') {
      const { resolve } = await import('node:path');
      out.result('', {
        image: argv.image, digest: desc.digest, format, mediaType: sbom.mediaType, output: resolve(argv.output),
        files: sbom.files.length, packages: sbom.packages.length, ...(attachedDigest ? { attached: attachedDigest } : {}),
      });
    }
  },
};
