import type { BuildOptions, BuildResult } from '../assemble/build-image.js';
import type { DockerfileBuildOptions, DockerfileBuildResult } from '../dockerfile-exec/build-dockerfile.js';
import { OcipushError } from '../errors.js';
import { libraryCall, type LibraryCall } from './errors.js';
import { abortWith, connectWith, layoutOption, type RegistryOptions } from './options.js';

/** `ocipush build ROOTFS...`: one layer per directory or tar file, bottom first. */
export interface DirectoryBuildOptions extends Omit<BuildOptions, 'rootfs' | 'connect'>, RegistryOptions {
  rootfs: string | string[];
  /** Take a `platform` string as it is, also an os, architecture or variant the OCI image spec does not list (the CLI's `--unlisted-platform`). */
  unlistedPlatform?: boolean;
}

/** `ocipush build -f DOCKERFILE CONTEXT`: `context` is required here (the CLI's default is `.`); `dockerfile` defaults to CONTEXT/Dockerfile. */
export interface DockerfileOptions extends Omit<DockerfileBuildOptions, 'connect' | 'context'>, RegistryOptions {
  context: string;
  /** Take a `platform` string as it is, also an os, architecture or variant the OCI image spec does not list (the CLI's `--unlisted-platform`). */
  unlistedPlatform?: boolean;
}

type AnyBuild = DirectoryBuildOptions & DockerfileOptions;
const BUILD: LibraryCall<AnyBuild> = {
  name: 'build', required: {}, what: () => 'build',
  strings: ['layout', 'tag', 'workdir', 'user', 'context', 'dockerfile', 'target', 'cacheRepo'],
  lists: ['entrypoint', 'cmd', 'expose', 'remove'], oneOrList: ['rootfs'], records: ['env', 'labels', 'annotations', 'buildArgs'],
};

/**
 * Builds an image into an OCI layout, from directories / tar files (`rootfs`) or from a
 * Dockerfile (`context`, `dockerfile`). The registry options reach base images (`base`, `FROM`).
 */
export function build(options: DirectoryBuildOptions): Promise<BuildResult>;
export function build(options: DockerfileOptions): Promise<DockerfileBuildResult>;
export function build(options: DirectoryBuildOptions | DockerfileOptions): Promise<BuildResult | DockerfileBuildResult> {
  return libraryCall(BUILD, options as AnyBuild, async (given) => {
    const laidOut = layoutOption('build', given);
    // A `platform` string is read as the CLI's --platform (`arm64`, `linux`, a typo refused); a Platform object is taken as it is.
    const options = typeof laidOut.platform === 'string'
      ? { ...laidOut, platform: (await import('../oci/platform-check.js')).checkPlatform(laidOut.platform, laidOut.unlistedPlatform)! }
      : laidOut;
    const base: unknown = options.base;
    if (base !== undefined && typeof base !== 'string' && (typeof base !== 'object' || base === null)) {
      throw new OcipushError('EUSAGE', `build: \`base\` ${String(base)}: expected a reference (REGISTRY/REPO[:TAG], oci:DIR[:NAME]) or what resolveBaseImage returns`);
    }
    // The base's manifest is fetched by code that takes no signal: the call's abort ends the client's requests instead
    // (the listener is on the call's own signal, gone with the call).
    const connect = async (registry: string) => {
      const client = await connectWith(registry, options);
      abortWith(options.signal, client);
      return client;
    };
    if ('rootfs' in options && options.rootfs !== undefined) {
      const { buildImage } = await import('../assemble/build-image.js');
      return buildImage({ ...options, rootfs: [options.rootfs].flat(), connect });
    }
    // The CLI's context defaults to `.`; a call names its own (a script's cwd is no build's context).
    if (typeof (options as Partial<DockerfileOptions>).context !== 'string') {
      throw new OcipushError('EUSAGE', 'build: set `rootfs` (directories and tar files, one layer each) or `context` (the directory of a Dockerfile build)');
    }
    const { buildDockerfile } = await import('../dockerfile-exec/build-dockerfile.js');
    return buildDockerfile({ ...(options as DockerfileOptions), connect });
  });
}
