import type { Argv } from 'yargs';
import { parseCommandLine, parseKeyValues, toArray, usageError, type CliCommand } from './command.js';
import { layoutOptionDefault, DEFAULT_TAG } from '../defaults.js';
import type { Output } from './output.js';
import type { Compression } from '../oci/media-types.js';
import { progressReporter, pushRegistries, reportBuild, type BuildPushes } from './build-report.js';
import { logProgressInterval } from './progress.js';
import type { Signer } from '../supply-chain/signer.js';
import { registryFlags, type RegistryFlags } from './registry-options.js';
import { checkPlatform, unlistedPlatformOption } from './platform-option.js';

/** Every flag of `ocipush build`; `build -f` reads a subset (src/cli/build-dockerfile.ts). */
export interface BuildArgs extends RegistryFlags {
  rootfs: string[];
  layout: string;
  tag: string;
  entrypoint?: string;
  cmd?: string;
  env?: string[];
  workdir?: string;
  user?: string;
  label?: string[];
  expose?: string[];
  platform?: string;
  unlistedPlatform?: boolean;
  base?: string;
  remove?: string[];
  format: 'oci' | 'docker';
  created?: string;
  annotation?: string[];
  compression: 'gzip' | 'none' | 'zstd';
  level?: number;
  threads?: number;
  owner?: string;
  cache?: boolean;
  cacheRepo?: string;
  cacheWrite?: boolean;
  sbom?: boolean;
  sbomFormat?: 'spdx' | 'cyclonedx';
  provenance?: boolean;
  key?: string;
  push?: string[];
  sign?: boolean;
  signContainerIdentity?: string;
  newBundleFormat?: boolean;
  file?: string;
  buildArg?: string[];
  target?: string;
  readBase?: boolean;
  lazyBase?: boolean;
}

/** A layer is "large" once it has run this long: only then is a progress line worth drawing. */

export const buildCommand: CliCommand<BuildArgs> = {
  command: 'build [rootfs..]',
  describe: 'Build an image into an OCI layout from rootfs directories or tar files (one layer each, bottom first)',
  builder: (y: Argv) => registryFlags(unlistedPlatformOption(y)
    .positional('rootfs', { type: 'string', array: true, describe: 'A directory, or a tar / tar.gz / tar.zst file used as a layer as it is' })
    .option('layout', { type: 'string', default: layoutOptionDefault(), describe: 'OCI image layout to write into, created when missing (env OCIPUSH_LAYOUT)' })
    .option('tag', { alias: 't', type: 'string', default: DEFAULT_TAG, describe: 'Tag of the image in the layout (replaces an older image of that tag)' })
    .option('entrypoint', { type: 'string', describe: 'Entrypoint: a JSON array, or words split at spaces' })
    .option('cmd', { type: 'string', describe: 'Cmd: a JSON array, or words split at spaces' })
    .option('env', { alias: 'e', type: 'string', array: true, describe: 'KEY=VALUE in the environment (repeatable)' })
    .option('workdir', { alias: 'w', type: 'string', describe: 'Working directory of the container' })
    .option('user', { type: 'string', describe: 'User (and group) the container runs as: UID[:GID] or a name' })
    .option('label', { alias: 'l', type: 'string', array: true, describe: 'KEY=VALUE image label (repeatable)' })
    .option('expose', { type: 'string', array: true, describe: 'PORT[-PORT][/tcp|udp|sctp] the container listens on (repeatable)' })
    .option('platform', { type: 'string', describe: 'os/arch[/variant] the image is for (default: the base\'s, else linux/amd64); picks the image of a multi-platform base' })
    .option('base', { type: 'string', describe: 'Image to build onto: [docker://]REGISTRY/REPO[:TAG|@DIGEST] (its layers are referenced, not downloaded) or oci:DIR[:TAG]' })
    .option('remove', { type: 'string', array: true, describe: 'PATH to delete from the layers below (an OCI whiteout; repeatable)' })
    .option('format', { type: 'string', choices: ['oci', 'docker'], default: 'oci', describe: 'Media types of the image: OCI, or Docker v2 schema 2' })
    .option('created', { type: 'string', describe: 'Creation time (RFC 3339 or unix seconds; default $SOURCE_DATE_EPOCH, else 1970-01-01); later file mtimes are clamped to it' })
    .option('annotation', { alias: 'a', type: 'string', array: true, describe: 'KEY=VALUE manifest annotation (repeatable)' })
    .option('compression', { type: 'string', choices: ['gzip', 'none', 'zstd'], default: 'gzip', describe: 'Layer compression (zstd needs a Node.js with zstd)' })
    .option('level', { type: 'number', describe: 'Compression level (gzip 1-9, default 2; zstd 1-19, default 3)' })
    .option('threads', { type: 'number', describe: 'Compression threads (default: every core)' })
    .option('owner', { type: 'string', describe: 'UID:GID given to every file in the layers, e.g. 0:0' })
    .option('cache', { type: 'boolean', describe: 'Reuse a layer built before into the layout when its files and options are unchanged (default; with -f, each COPY/ADD layer); --no-cache reads every file again and asks no --cache-repo (and still records the layers for the next build)' })
    .option('sbom', { type: 'boolean', describe: 'Also make an SBOM of the image from the files it layers, stored as its OCI 1.1 referrer (push carries it)' })
    .option('sbom-format', { type: 'string', choices: ['spdx', 'cyclonedx'], default: 'spdx', describe: 'With --sbom: SPDX 2.3 JSON or CycloneDX 1.6 JSON' })
    .option('provenance', { type: 'boolean', describe: 'Also make a SLSA provenance attestation of the build, signed with --key, stored as the image\'s referrer (push carries it, also as cosign\'s .att)' })
    .option('key', { type: 'string', describe: 'With --provenance or --sign: the private key (cosign.key with COSIGN_PASSWORD, a PKCS#8 PEM file, or env://NAME)' })
    .option('push', { type: 'string', array: true, describe: 'Then push the image to REGISTRY/REPO[:TAG], as push does, its SBOM and provenance along (repeatable)' })
    .option('sign', { type: 'boolean', describe: 'Sign the image by digest with --key (cosign\'s format): in each repository --push pushes to, or once in the layout with --sign-container-identity' })
    .option('sign-container-identity', { type: 'string', describe: 'With --sign: sign in the layout, for this REGISTRY/REPOSITORY (as cosign\'s flag); push and copy take the signature along' })
    .option('new-bundle-format', { type: 'boolean', describe: 'With --sign: a Sigstore bundle as an OCI 1.1 referrer, as cosign 3 signs by default (as sign --new-bundle-format), not sha256-<hex>.sig: in each repository --push pushes to, or without --push in the layout (it names the digest only)' })
    .option('cache-repo', { type: 'string', describe: 'REGISTRY/REPO holding a layer cache shared through the registry: layers found there are not compressed again' })
    .option('cache-write', { type: 'boolean', describe: 'With --cache-repo: store the layers this build makes in the registry cache' })
    .option('file', { alias: 'f', type: 'string', describe: 'Build from this Dockerfile (no RUN); the positional argument is then the build context (default .)' })
    .option('build-arg', { type: 'string', array: true, describe: 'With -f: KEY=VALUE for an ARG (KEY alone takes $KEY; repeatable)' })
    .option('target', { type: 'string', describe: 'With -f: the stage to build (default the last)' })
    .option('read-base', { type: 'boolean', describe: 'With -f: read the base images\' layers on every build, not the tree of them a build keeps in the layout' })
    .option('lazy-base', { type: 'boolean', describe: 'With -f: do not read a base image\'s layers for its directories (faster on a new layout; runtimes that unpack layers apart, Docker\'s overlay2 and podman\'s overlay, then make the directories COPY passes through 0755 root)' })
    .example('$0 build ./rootfs', 'one layer from a directory into ./oci-layout, tag latest')
    .example('$0 build -f Dockerfile . --tag app:1', 'a Dockerfile (FROM, COPY, ENV, ENTRYPOINT …, no RUN), no daemon needed')
    .example('$0 build alpine-minirootfs.tar.gz ./app --entrypoint /app/run --tag app:1', 'a two-layer image')
    .example('$0 build ./app --base localhost:5000/alpine:3.18 --entrypoint /app/run --tag app:1', 'onto a base image, without downloading its layers')
    .example('$0 build ./app --sbom --push registry.example.com/app:1 --sign --key cosign.key', 'build, SBOM, push and signature in one run')
    .example('$0 build ./app --sbom --tag app:1 --sign --key cosign.key --sign-container-identity registry.example.com/app', 'build, SBOM and signature into the layout, offline; push it later')
    .example('SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) $0 build ./rootfs --owner 0:0', 'a reproducible release build')),
  run: async (argv, out: Output) => {
    // As checked and spelled out (`linux` is linux/amd64 on this machine), for the library, which takes only os/arch.
    argv.platform = checkPlatform(argv.platform, argv.unlistedPlatform);
    const pushes = await pushTargets(argv);
    if (argv.cacheWrite && argv.cacheRepo === undefined) throw usageError('--cache-write stores layers in the registry cache: name it with --cache-repo REGISTRY/REPO');
    // Standard input is one stream: whichever is read second found it empty ("no password on standard input").
    if (argv.file === '-' && argv.passwordStdin) throw usageError('-f - and --password-stdin both read standard input: give the Dockerfile as a file, or the password in OCIPUSH_USERNAME/OCIPUSH_PASSWORD or a docker login');
    if (argv.file !== undefined) {
      const { runDockerfileBuild } = await import('./build-dockerfile.js');
      return runDockerfileBuild(argv, out, pushes);
    }
    if (argv.username !== undefined && argv.base === undefined && argv.cacheRepo === undefined && !pushes) {
      throw usageError(`-u/--username is the registry user name (for --base, --cache-repo and --push), not the image's: the image user is --user ${JSON.stringify(argv.username)}`);
    }
    const dockerfileOnly = Object.entries({ '--build-arg': argv.buildArg, '--target': argv.target, '--read-base': argv.readBase, '--lazy-base': argv.lazyBase }).filter(([, value]) => value !== undefined).map(([flag]) => flag);
    if (dockerfileOnly.length > 0) throw usageError(`${dockerfileOnly.join(' and ')} ${dockerfileOnly.length > 1 ? 'go' : 'goes'} with -f/--file (a Dockerfile build)`);
    const dockerfileHint = await dockerfileBeside(toArray(argv.rootfs));
    const level = argv.level;
    const threads = argv.threads;
    if (threads !== undefined && (!Number.isInteger(threads) || threads < 1)) throw usageError(`--threads ${threads}: expected a whole number ≥ 1`);
    for (const item of toArray(argv.env)) if (item.indexOf('=') <= 0) throw usageError(`--env "${item}": expected KEY=VALUE`);
    // getfattr and the compression workers start now, while the build's modules load on this core.
    const { prepareDirectoryLayers } = await import('../layer/prefetch.js');
    await prepareDirectoryLayers(toArray(argv.rootfs), {
      compression: argv.compression as Compression,
      ...(level !== undefined ? { level } : {}),
      ...(threads !== undefined ? { threads } : {}),
    }, { layout: argv.layout, cache: argv.cache !== false });
    const { buildImage } = await import('../assemble/build-image.js');
    const { registryConnector, stripTransport } = await import('./registry-options.js');
    const { onInterrupt } = await import('./output.js');
    await onInterrupt(out, 'build', `${argv.layout} is left as it was`);

    const provenance = await provenanceOptions(argv, pushes?.signer);
    const progress = progressReporter(out, { logEveryMs: logProgressInterval() });
    const result = await buildImage({
      rootfs: toArray(argv.rootfs),
      layout: argv.layout,
      tag: argv.tag,
      ...(argv.entrypoint !== undefined ? { entrypoint: parseCommandLine(argv.entrypoint, 'entrypoint') } : {}),
      ...(argv.cmd !== undefined ? { cmd: parseCommandLine(argv.cmd, 'cmd') } : {}),
      env: toArray(argv.env),
      ...(argv.workdir !== undefined ? { workdir: argv.workdir } : {}),
      ...(argv.user !== undefined ? { user: argv.user } : {}),
      labels: parseKeyValues(argv.label, 'label'),
      expose: toArray(argv.expose),
      ...(argv.platform !== undefined ? { platform: argv.platform } : {}),
      ...(argv.base !== undefined ? { base: stripTransport(argv.base) } : {}),
      ...(argv.base !== undefined || argv.cacheRepo !== undefined ? { connect: registryConnector(argv, pushRegistries(pushes)) } : {}),
      ...(argv.cacheRepo !== undefined ? { cacheRepo: stripTransport(argv.cacheRepo), ...(argv.cacheWrite ? { cacheWrite: true } : {}) } : {}),
      ...(argv.sbom ? { sbom: argv.sbomFormat ?? 'spdx' } : {}),
      ...(provenance ? { provenance } : {}),
      remove: toArray(argv.remove),
      format: argv.format,
      ...(argv.created !== undefined ? { created: argv.created } : {}),
      annotations: parseKeyValues(argv.annotation, 'annotation'),
      compression: argv.compression,
      ...(level !== undefined ? { level } : {}),
      ...(threads !== undefined ? { threads } : {}),
      ...(argv.owner !== undefined ? { owner: argv.owner } : {}),
      ...(argv.cache === false ? { cache: false } : {}),
      onWarning: (message) => { if (!out.quiet) out.warn(message); },
      onStored: (image) => onInterrupt(out, 'build', `the image built is in ${image.layout} as ${image.tag} (${image.digest})`),
      onProgress: progress,
    });
    // Once built: a build refused for its flags says only why.
    if (dockerfileHint && !out.quiet) out.warn(dockerfileHint);
    await reportBuild(out, result, {}, pushes);
  },
};

/**
 * `ocipush build -t app .` beside a Dockerfile, as `docker build` is typed: the directory is a root
 * filesystem here (one layer of its files, the Dockerfile among them), which is built, as
 * documented: the line that says so and how the Dockerfile is built.
 */
async function dockerfileBeside(rootfs: string[]): Promise<string | undefined> {
  if (rootfs.length !== 1) return undefined;
  const [{ statSync }, { join }] = await Promise.all([import('node:fs'), import('node:path')]);
  const dir = rootfs[0]!;
  // A rootfs that is a tar file (ENOTDIR) or unreadable is the build's to report, not this hint's.
  const isFile = (path: string) => { try { return statSync(path, { throwIfNoEntry: false })?.isFile() === true; } catch { return false; } };
  // `dockerfile` too: docker build and BuildKit read it where there is no Dockerfile.
  const file = ['Dockerfile', 'Containerfile', 'dockerfile'].find((name) => isFile(join(dir, name)));
  return file && `${join(dir, file)}: ${dir} is built as a root filesystem, its ${file} a file in the layer; to build from the ${file}: ocipush build -f ${join(dir, file)} ${dir}`;
}

/**
 * `--push REF…` and `--sign`, checked before anything is built: the references parse,
 * `--concurrency` is a number the push takes, `--sign` has a key and something to sign (a push,
 * or the layout with `--sign-container-identity`, or with `--new-bundle-format` and no push); the
 * key is opened now (once, for the provenance too).
 */
export async function pushTargets(argv: BuildArgs): Promise<BuildPushes | undefined> {
  const targets = toArray(argv.push);
  // Checked without a push too: it also bounds a base's and a cache registry's requests, and a
  // `--concurrency 0` a script passes must not pass here and fail once --push is added.
  const { checkConcurrency } = await import('./registry-options.js');
  const concurrency = checkConcurrency(argv.concurrency);
  if (argv.newBundleFormat && !argv.sign) throw usageError('--new-bundle-format says how --sign stores the signature: add --sign --key KEY');
  // A bundle names the digest only: without a push it is signed in the layout, no repository needed.
  const inLayout = argv.signContainerIdentity !== undefined || (argv.newBundleFormat === true && targets.length === 0);
  if (inLayout && !argv.sign) throw usageError('--sign-container-identity names the repository a signature is for: add --sign --key KEY');
  if (targets.length === 0 && !inLayout) {
    if (argv.sign) throw usageError('--sign signs what --push pushes: add --push REGISTRY/REPO[:TAG], or sign in the layout with --sign-container-identity REGISTRY/REPO (or --new-bundle-format)');
    return undefined;
  }
  const { parseReference } = await import('../oci/reference.js');
  const { stripTransport } = await import('./registry-options.js');
  const to = targets.map((target) => {
    const text = stripTransport(target);
    return { text, reference: parseReference(text) };
  });
  // With --sign-container-identity the image is signed once, in the layout (the pushes carry that
  // signature); without, in each repository pushed to. (--key alone may sign a provenance.)
  const { signingFromFlags } = await import('./key-options.js');
  const signing = argv.sign ? await signingFromFlags(argv, inLayout ? { transport: 'oci', text: `oci:${argv.layout}` } : { transport: 'registry', text: targets[0]! }) : undefined;
  return {
    to, flags: argv, concurrency, ...(signing ? { signer: signing.signer } : {}), ...(signing?.identity ? { signInLayoutFor: signing.identity } : {}),
    ...(signing?.bundle ? { signBundle: true } : {}), ...(signing?.storedIn ? { signStoredIn: signing.storedIn } : {}),
  };
}


/**
 * `--provenance --key KEY`: the signer (the key read and unlocked before any work, or the one
 * `--sign` opened) and the build's parameters.
 */
export async function provenanceOptions(argv: BuildArgs, opened?: Signer): Promise<import('../assemble/build-provenance.js').ProvenanceOptions | undefined> {
  if (!argv.provenance) {
    if (argv.key !== undefined && !argv.sign) throw usageError('--key signs the provenance (--provenance) or the image pushed (--push … --sign): add one');
    return undefined;
  }
  if (argv.key === undefined) throw usageError('--provenance is signed: name the private key with --key (cosign.key, a PEM file or env://NAME)');
  const { loadSigner } = await import('./key-options.js');
  const signer = opened ?? await loadSigner(argv.key);
  // The command as given, less anything secret (the key is named, never included): every flag
  // that changes the image, as SLSA asks of externalParameters (complete), so a verifier can tell
  // a Dockerfile build, its stage and arguments, or a --user 0 from the build it expected.
  const given = (entries: Record<string, unknown>) => Object.fromEntries(Object.entries(entries).filter(([, v]) => v !== undefined && !(Array.isArray(v) && v.length === 0)));
  const externalParameters = {
    rootfs: toArray(argv.rootfs), tag: argv.tag, format: argv.format, compression: argv.compression,
    ...given({ file: argv.file, target: argv.target, buildArgs: toArray(argv.buildArg), base: argv.base, platform: argv.platform }),
    ...given({ entrypoint: argv.entrypoint, cmd: argv.cmd }),
    env: toArray(argv.env), labels: toArray(argv.label),
    ...given({ workdir: argv.workdir, user: argv.user, expose: toArray(argv.expose), remove: toArray(argv.remove), annotations: toArray(argv.annotation) }),
    ...given({ owner: argv.owner, level: argv.level, created: argv.created }),
  };
  return { signer, externalParameters };
}
