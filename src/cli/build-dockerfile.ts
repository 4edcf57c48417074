import { parseKeyValues, toArray, usageError } from './command.js';
import type { Output } from './output.js';
import type { BuildArgs } from './build.js';
import { progressReporter, pushRegistries, reportBuild, type BuildPushes } from './build-report.js';
import { logProgressInterval } from './progress.js';

/** What the Dockerfile decides: these flags of the rootfs build make no sense with -f. */
const CONFLICTING = ['entrypoint', 'cmd', 'env', 'workdir', 'user', 'expose', 'base', 'remove', 'owner'] as const;

/** `ocipush build -f Dockerfile [CONTEXT]`. */
export async function runDockerfileBuild(argv: BuildArgs, out: Output, pushes?: BuildPushes): Promise<void> {
  for (const flag of CONFLICTING) {
    if (argv[flag] !== undefined && !(Array.isArray(argv[flag]) && (argv[flag] as unknown[]).length === 0)) {
      throw usageError(`--${flag} cannot be used with -f/--file: the Dockerfile sets it`);
    }
  }
  const positional = toArray(argv.rootfs);
  if (positional.length > 1) throw usageError(`-f/--file takes one build context directory, not ${positional.length} (${positional.join(' ')})`);
  if (positional[0] === '-') {
    throw usageError('build context -: a context read from standard input (docker build -) is not supported: unpack it into a directory (mkdir ctx && tar -xf - -C ctx) and name that directory');
  }
  if (argv.file === '') throw usageError('-f/--file: name a Dockerfile');
  const threads = argv.threads;
  if (threads !== undefined && (!Number.isInteger(threads) || threads < 1)) throw usageError(`--threads ${threads}: expected a whole number ≥ 1`);

  const { buildDockerfile } = await import('../dockerfile-exec/build-dockerfile.js');
  const { registryConnector, stripTransport } = await import('./registry-options.js');
  const { onInterrupt } = await import('./output.js');
  await onInterrupt(out, `build of ${argv.file}`, `${argv.layout} is left as it was`);

  const { provenanceOptions } = await import('./build.js');
  const provenance = await provenanceOptions(argv, pushes?.signer);
  const result = await buildDockerfile({
    context: positional[0] ?? '.',
    dockerfile: argv.file!,
    buildArgs: buildArgs(toArray(argv.buildArg)),
    ...(argv.target !== undefined ? { target: argv.target } : {}),
    labels: parseKeyValues(argv.label, 'label'),
    layout: argv.layout,
    tag: argv.tag,
    ...(argv.platform !== undefined ? { platform: argv.platform } : {}),
    format: argv.format,
    ...(argv.created !== undefined ? { created: argv.created } : {}),
    annotations: parseKeyValues(argv.annotation, 'annotation'),
    compression: argv.compression,
    ...(argv.level !== undefined ? { level: argv.level } : {}),
    ...(threads !== undefined ? { threads } : {}),
    readBase: argv.readBase === true,
    ...(argv.lazyBase === true ? { lazyBase: true } : {}),
    ...(argv.cache === false ? { cache: false } : {}),
    connect: registryConnector(argv, pushRegistries(pushes)),
    ...(argv.cacheRepo !== undefined ? { cacheRepo: stripTransport(argv.cacheRepo), ...(argv.cacheWrite ? { cacheWrite: true } : {}) } : {}),
    ...(argv.sbom ? { sbom: argv.sbomFormat ?? 'spdx' } : {}),
    ...(provenance ? { provenance } : {}),
    onWarning: (message) => { if (!out.quiet) out.warn(message); },
    onStored: (image) => onInterrupt(out, `build of ${argv.file}`, `the image built is in ${image.layout} as ${image.tag} (${image.digest})`),
    onInfo: (message) => out.info(message),
    onProgress: progressReporter(out, { logEveryMs: logProgressInterval() }),
  });
  await reportBuild(out, result, { stage: result.stage }, pushes);
}

/** `--build-arg K=V`; `--build-arg K` takes $K, and is left out when K is not set (as docker build). */
export function buildArgs(items: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq === 0) throw usageError(`--build-arg "${item}": expected KEY=VALUE or KEY`);
    if (eq < 0) {
      const value = process.env[item];
      if (value !== undefined) out[item] = value;
      continue;
    }
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

