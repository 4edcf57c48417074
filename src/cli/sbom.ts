import type { Argv } from 'yargs';
import { usageError, type CliCommand } from './command.js';
import type { Output } from './output.js';
import { registryFlags, type RegistryFlags } from './registry-options.js';

interface SbomArgs extends RegistryFlags {
  image: string;
  sbomFormat: string;
  output?: string;
  platform?: string;
  created?: string;
  attach?: boolean;
}

export const sbomCommand: CliCommand<SbomArgs> = {
  command: 'sbom <image>',
  describe: 'Write the SBOM (SPDX 2.3 or CycloneDX 1.6) of an image in a registry or a layout, streaming its layers',
  builder: (y: Argv) => registryFlags(y
    .positional('image', { type: 'string', describe: 'REGISTRY/REPOSITORY[:TAG|@DIGEST], or oci:DIR[:TAG]' })
    .option('sbom-format', { type: 'string', choices: ['spdx', 'cyclonedx'], default: 'spdx', describe: 'SPDX 2.3 JSON or CycloneDX 1.6 JSON' })
    .option('output', { alias: 'o', type: 'string', describe: 'Write the SBOM to this file (default: standard output)' })
    .option('platform', { type: 'string', describe: 'From a multi-platform index, this os/arch[/variant]' })
    .option('created', { type: 'string', describe: 'The SBOM\'s time (RFC 3339 or unix seconds); default SOURCE_DATE_EPOCH, else the image\'s creation time' })
    .option('attach', { type: 'boolean', describe: 'Also push the SBOM to the registry as an OCI 1.1 artifact referring to the image' })
    .example('$0 sbom localhost:5000/app:1 -o app.spdx.json', 'an SPDX document of every file and package in app:1')),
  run: async (argv, out: Output) => {
    const format = argv.sbomFormat === 'cyclonedx' ? 'cyclonedx' : 'spdx';
    const { parseCreated } = await import('../image/config.js');
    const epoch = process.env.SOURCE_DATE_EPOCH;
    const created = argv.created !== undefined ? new Date(parseCreated(argv.created) * 1000)
      : epoch !== undefined && epoch !== '' ? new Date(parseCreated(epoch) * 1000) : undefined;
    const { parsePlatform } = await import('../oci/descriptor.js');
    const platform = argv.platform === undefined ? undefined : parsePlatform(argv.platform);
    const { selectPlatform } = await import('../image/platform.js');
    const { generateSbom } = await import('../supply-chain/sbom/index.js');
    const { parseLayoutTarget } = await import('../image/layout-reference.js');
    const layoutTarget = parseLayoutTarget(argv.image);
    let sbom;
    let subjectText: string;
    if (layoutTarget) {
      if (argv.attach) throw usageError('--attach pushes to a registry: give a registry reference, not a layout');
      const { OciLayout } = await import('../content/layout.js');
      const { readSmall, MAX_MANIFEST_BYTES } = await import('../content/verify.js');
      const layout = await OciLayout.open(layoutTarget.dir);
      let desc = await layout.resolve(layoutTarget.name);
      if (platform) {
        const bytes = await readSmall(await layout.fetch(desc), MAX_MANIFEST_BYTES, `manifest ${desc.digest}`);
        desc = selectPlatform({ descriptor: desc, bytes }, platform, argv.image);
      }
      subjectText = argv.image;
      sbom = await generateSbom(layout, desc, { format, name: argv.image, created });
    } else {
      const { parseReference, referenceTarget, formatReference } = await import('../oci/reference.js');
      const source = parseReference(argv.image);
      const { clientFromFlags } = await import('./registry-options.js');
      const { Repository } = await import('../registry/repository.js');
      const client = await clientFromFlags(source.registry, argv);
      try {
        const repo = new Repository(client, source.repository);
        const fetched = await repo.fetchManifest(referenceTarget(source));
        const desc = platform ? selectPlatform(fetched, platform, formatReference(source)) : fetched.descriptor;
        subjectText = `${source.registry}/${source.repository}@${desc.digest}`;
        sbom = await generateSbom(repo, desc, { format, name: formatReference(source), repository: `${source.registry}/${source.repository}`, created });
        if (argv.attach) {
          const { attachArtifact, bytesBlob } = await import('../supply-chain/attach.js');
          const attached = await attachArtifact(repo, desc, sbom.mediaType, [bytesBlob(sbom.bytes, sbom.mediaType)]);
          out.info(`attached the SBOM as ${source.registry}/${source.repository}@${attached.manifest.digest}`);
        }
        await client.close();
      } catch (err) {
        await client.destroy();
        throw err;
      }
    }
    if (argv.output) {
      const { writeFile } = await import('node:fs/promises');
      const { fromSystemError } = await import('../errors.js');
      await writeFile(argv.output, sbom.bytes).catch((err) => { throw fromSystemError(err, argv.output!, 'cannot write'); });
    } else {
      process.stdout.write(sbom.bytes);
    }
    out.info(`SBOM of ${subjectText}: ${sbom.files.length} files, ${sbom.packages.length} packages (${format === 'spdx' ? 'SPDX 2.3' : 'CycloneDX 1.6'})`);
  },
};
