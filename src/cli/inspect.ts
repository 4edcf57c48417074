import type { Argv } from 'yargs';
import { usageError, type CliCommand } from './command.js';
import { escapeControl, formatBytes, type Output } from './output.js';
import { registryFlags, type RegistryFlags } from './registry-options.js';
import { checkPlatform, unlistedPlatformOption } from './platform-option.js';
import type { Descriptor } from '../oci/descriptor.js';
import type { AnyManifest, ImageConfig } from '../oci/manifest.js';
import type { ReadOnlyStorage } from '../content/storage.js';

interface InspectArgs extends RegistryFlags {
  target: string;
  raw?: boolean;
  config?: boolean;
  platform?: string;
  unlistedPlatform?: boolean;
}

/** Where the manifest came from: a registry repository or a layout, and how to read its blobs. */
interface Opened {
  name: string;
  descriptor: Descriptor;
  bytes: Buffer;
  resolveChild(desc: Descriptor): Promise<{ descriptor: Descriptor; bytes: Buffer }>;
  storage: ReadOnlyStorage;
  close(): Promise<void>;
}

export const inspectCommand: CliCommand<InspectArgs> = {
  command: 'inspect <target>',
  describe: 'Show an image\'s manifest, config and layers, from a registry or an OCI layout',
  builder: (y: Argv) => registryFlags(unlistedPlatformOption(y)
    .positional('target', { type: 'string', describe: '[docker://]REGISTRY/REPOSITORY[:TAG|@DIGEST], oci:DIR[:TAG], or a layout directory' })
    .option('raw', { type: 'boolean', describe: 'Print the manifest exactly as stored (the bytes its digest is of)' })
    .option('config', { type: 'boolean', describe: 'Print the image config exactly as stored' })
    .option('platform', { type: 'string', describe: 'For a multi-platform index, inspect this os/arch[/variant] (--config: default this machine\'s)' })
    .conflicts('raw', 'config')
    .example('$0 inspect localhost:5000/hello:0.1', 'digest, platform, config and layers')
    .example('$0 inspect oci:./oci-layout:latest --config', 'the image config of a local image')),
  run: async (argv, out: Output) => {
    const { parsePlatform } = await import('../oci/descriptor.js');
    const platformText = checkPlatform(argv.platform, argv.unlistedPlatform);
    const platform = platformText === undefined ? undefined : parsePlatform(platformText);
    if (argv.raw && !platform) {
      // From a registry, the bytes as served (a Docker schema 1 manifest's too), as ocipush manifest prints them;
      // from a layout or archive, as stored, of any kind.
      const { registryManifestBytes, storedRootBytes } = await import('./read-source.js');
      const raw = (await registryManifestBytes(argv.target, argv)) ?? (await storedRootBytes(argv.target, argv))?.bytes;
      if (raw) {
        process.stdout.write(raw);
        return;
      }
    }
    const opened = await open(argv);
    try {
      const { parseManifest, isIndex, parseImageConfig } = await import('../oci/manifest.js');
      let descriptor = opened.descriptor;
      let bytes = opened.bytes;
      // --config of an index is this machine's platform's config, as `ocipush config` and skopeo inspect --config pick it.
      const { hostPlatformOf } = await import('../oci/platform-check.js');
      const wanted = platform ?? (argv.config && isIndex(parseManifest(bytes, `${opened.name}: manifest`, descriptor.mediaType)) ? hostPlatformOf() : undefined);
      if (wanted) {
        const [{ platformManifest }, { noManifestFor }] = await Promise.all([import('../image/load.js'), import('../image/platform.js')]);
        // A single image of another platform than --platform asks for is refused, as manifest, config and digest refuse it:
        // inspect --raw --platform linux/arm64 must never print an amd64 image's manifest.
        const chosen = await platformManifest(opened.storage, { descriptor, bytes }, { name: opened.name, platform: wanted, noMatch: noManifestFor(opened.name), requirePlatform: platform !== undefined });
        if (chosen.digest !== descriptor.digest) ({ descriptor, bytes } = await opened.resolveChild(chosen));
      }
      const manifest = parseManifest(bytes, `${opened.name}: manifest`, descriptor.mediaType);
      if (argv.raw) {
        process.stdout.write(bytes);
        return;
      }
      if (isIndex(manifest) && argv.config) throw usageError(`${opened.name}: an index inside an index; name the manifest by digest (--config)`);
      let config: ImageConfig | undefined;
      let configStored: unknown;
      if (!isIndex(manifest)) {
        const { configBytes: readConfig } = await import('./read-source.js');
        const configBytes = await readConfig(opened.storage, manifest.config, opened.name);
        // The bytes as stored, whatever they hold (as `ocipush config`, skopeo and crane print them).
        if (argv.config) {
          process.stdout.write(configBytes);
          return;
        }
        // An artifact may call `{}` an image config (oras, older tools): the manifest and layers
        // are still shown, without the platform and settings it does not have.
        if (isImageConfig(manifest.config.mediaType)) config = imageConfigOrNone(() => parseImageConfig(configBytes, `${opened.name}: config`));
        if (config) configStored = JSON.parse(configBytes.toString('utf8'));
      }
      out.data(describe(opened.name, descriptor, manifest, config), {
        reference: opened.name,
        digest: descriptor.digest,
        size: descriptor.size,
        mediaType: descriptor.mediaType,
        // The documents as stored, as skopeo inspect --raw and crane config print them: the model's
        // reading (a mediaType taken from the descriptor, Go's `"diff_ids": null` read as no layers)
        // is for the lines above, never a field the image does not have.
        manifest: JSON.parse(bytes.toString('utf8')) as unknown,
        ...(config ? { config: configStored } : {}),
      });
    } finally {
      await opened.close();
    }
  },
};

function imageConfigOrNone(parse: () => ImageConfig): ImageConfig | undefined {
  try {
    return parse();
  } catch (err) {
    if ((err as { code?: string }).code === 'EINVALID') return undefined;
    throw err;
  }
}

function isImageConfig(mediaType: string): boolean {
  return mediaType === 'application/vnd.oci.image.config.v1+json' || mediaType === 'application/vnd.docker.container.image.v1+json';
}

/** The target through the one image loader's transports: a registry, a layout, an archive. */
async function open(argv: InspectArgs): Promise<Opened> {
  const { openImage } = await import('../transports/open.js');
  const { readManifest } = await import('../image/load.js');
  const { clientFromFlags } = await import('./registry-options.js');
  const opened = await openImage(argv.target, { connect: (registry) => clientFromFlags(registry, argv) });
  try {
    const read = async (desc: Descriptor) => {
      const { descriptor, bytes } = await readManifest(opened.storage, desc, { name: opened.name });
      return { descriptor, bytes };
    };
    return {
      name: opened.name,
      ...(await read(opened.root)),
      resolveChild: read,
      storage: opened.storage,
      close: () => opened.close(),
    };
  } catch (err) {
    await opened.close();
    throw err;
  }
}

function describe(name: string, desc: Descriptor, manifest: AnyManifest, config: ImageConfig | undefined): string {
  const lines = [
    `Reference:  ${name}`,
    `Digest:     ${desc.digest}`,
    `Media type: ${desc.mediaType}`,
    `Size:       ${desc.size} bytes`,
  ];
  // What an OCI 1.1 artifact is and what it is about: a referrer read by digest says nothing else.
  if (manifest.artifactType) lines.push(`Artifact:   ${manifest.artifactType}`);
  if (manifest.subject) lines.push(`Subject:    ${manifest.subject.digest}`);
  if ('manifests' in manifest) {
    lines.push(`Manifests:  ${manifest.manifests.length}`);
    for (const m of manifest.manifests) {
      // Windows images of one tag differ only by os.version (ltsc2019, ltsc2022): without it two lines would read the same.
      const version = m.platform?.['os.version'] ? ` (os.version ${m.platform['os.version']})` : '';
      const p = m.platform ? [m.platform.os, m.platform.architecture, m.platform.variant].filter(Boolean).join('/') + version : 'no platform';
      lines.push(`  ${m.digest}  ${p.padEnd(16)} ${formatBytes(m.size)}`);
    }
    for (const [k, v] of Object.entries(manifest.annotations ?? {})) lines.push(`Annotation: ${k}=${v}`);
    return oneLineEach(lines);
  }
  if (config) {
    lines.push(`Platform:   ${[config.os, config.architecture, config.variant].filter(Boolean).join('/')}${config['os.version'] ? ` (os.version ${config['os.version']})` : ''}`);
    if (config.created) lines.push(`Created:    ${config.created}`);
    const c = config.config ?? {};
    if (c.Entrypoint) lines.push(`Entrypoint: ${JSON.stringify(c.Entrypoint)}`);
    if (c.Cmd) lines.push(`Cmd:        ${JSON.stringify(c.Cmd)}`);
    if (c.WorkingDir) lines.push(`Workdir:    ${c.WorkingDir}`);
    if (c.User) lines.push(`User:       ${c.User}`);
    for (const env of c.Env ?? []) lines.push(`Env:        ${env}`);
    for (const [k, v] of Object.entries(c.Labels ?? {})) lines.push(`Label:      ${k}=${v}`);
    if (c.ExposedPorts) lines.push(`Ports:      ${Object.keys(c.ExposedPorts).join(' ')}`);
  }
  lines.push(`Config:     ${manifest.config.digest} (${formatBytes(manifest.config.size)})`);
  const total = manifest.layers.reduce((sum, l) => sum + l.size, 0);
  lines.push(`Layers:     ${manifest.layers.length} (${formatBytes(total)})`);
  for (const l of manifest.layers) lines.push(`  ${l.digest}  ${formatBytes(l.size).padStart(10)}  ${l.mediaType}`);
  for (const [k, v] of Object.entries(manifest.annotations ?? {})) lines.push(`Annotation: ${k}=${v}`);
  return oneLineEach(lines);
}

/**
 * Each field one line: a value's newline (a multi-line org.opencontainers.image.description, an
 * Env value) shown as \n, as skopeo inspect's JSON has it, so `grep ^Label:` gets the whole value
 * and a line never reads as another field.
 */
function oneLineEach(lines: string[]): string {
  return lines.map(escapeControl).join('\n');
}
