import type { Argv } from 'yargs';
import { usageError, type CliCommand } from './command.js';
import type { Output } from './output.js';
import { registryFlags, stripTransport, type RegistryFlags } from './registry-options.js';

interface ListArgs extends RegistryFlags {
  repository?: string;
  registry?: string;
  pageSize?: number;
}

function pageSizeOf(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1 || n > 10_000) throw usageError(`--page-size ${String(value)}: expected a whole number from 1 to 10000`);
  return n;
}

const pageSizeOption = { type: 'number', describe: 'Entries asked for per request (n); every page is followed to the end' } as const;

/** One name a line as pages arrive; with --json the whole array at the end. */
async function print(pages: AsyncGenerator<string[]>, out: Output): Promise<string[]> {
  const all: string[] = [];
  for await (const page of pages) {
    all.push(...page);
    if (!out.json && page.length > 0) out.data(page.join('\n'));
  }
  if (out.json) out.data('', all);
  return all;
}

export const lsCommand: CliCommand<ListArgs> = {
  command: 'ls <repository>',
  describe: 'List the tags of a repository (or the names of an OCI layout or archive), one a line',
  builder: (y: Argv) => registryFlags(y
    .positional('repository', { type: 'string', describe: 'REGISTRY/REPOSITORY, or oci:DIR (or a directory holding a layout), oci-archive:FILE, docker-archive:FILE' })
    .option('page-size', pageSizeOption)
    .example('$0 ls localhost:5000/app', 'every tag, following the registry\'s pages')
    .example('$0 ls oci:build', 'the names of a layout\'s images, as umoci ls')),
  run: async (argv, out: Output) => {
    // A directory holding a layout is one, named bare (`ls ./oci-layout`), as inspect and push take it.
    const { parseLayoutTarget } = await import('../transports/layout-reference.js');
    const bare = argv.repository!.startsWith('docker://') ? undefined : parseLayoutTarget(argv.repository!);
    if (/^(?:oci|oci-archive|docker-archive):/.test(argv.repository!) || bare) {
      if (argv.pageSize !== undefined) throw usageError('--page-size is for a registry');
      const { parseTransport } = await import('../transports/parse.js');
      const location = parseTransport(argv.repository!);
      if (location.transport === 'registry' || location.name !== undefined) throw usageError(`${argv.repository}: name a layout (oci:DIR) or archive (oci-archive:FILE, docker-archive:FILE), without a name`);
      const names = await localNames(location.transport, location.path);
      out.data(names.join('\n'), names);
      return;
    }
    const text = stripTransport(argv.repository!);
    // A registry alone (localhost:5000, ghcr.io) would read as a Docker Hub repository or a tag.
    if (!text.includes('/') && (text === 'localhost' || /[.:]/.test(text))) {
      throw usageError(`${argv.repository}: a registry, not a repository: ocipush catalog ${text} lists its repositories, ocipush ls ${text}/REPOSITORY a repository's tags`);
    }
    const { registryReference, withRepository } = await import('./repository-ref.js');
    const ref = await registryReference(argv.repository!, 'repository');
    if (ref.tag || ref.digest) throw usageError(`${argv.repository}: name a repository, without tag or digest`);
    const pageSize = pageSizeOf(argv.pageSize);
    const { listTagPages } = await import('../registry/tags.js');
    await withRepository(ref, argv, (repository, client) => print(listTagPages(client, repository.repositoryName, pageSize ? { pageSize } : {}), out));
  },
};

/**
 * The names a layout's index.json gives (as umoci ls), an OCI archive's likewise, or a docker
 * archive's RepoTags (as skopeo list-tags docker-archive:), each once, in their order.
 */
async function localNames(transport: 'oci' | 'oci-archive' | 'docker-archive', path: string): Promise<string[]> {
  if (transport === 'docker-archive') {
    const { archiveRepoTags } = await import('../archive/docker-archive-reader.js');
    return [...new Set(await archiveRepoTags(path))];
  }
  if (transport === 'oci-archive') {
    const [{ OciArchiveReader }, { Annotation }] = await Promise.all([import('../archive/oci-archive-reader.js'), import('../oci/descriptor.js')]);
    const archive = await OciArchiveReader.open(path);
    await archive.close();
    return [...new Set(archive.index.manifests.flatMap((d) => d.annotations?.[Annotation.RefName] ?? []))];
  }
  const { OciLayout } = await import('../content/layout.js');
  const layout = await OciLayout.open(path);
  try {
    return await layout.names();
  } finally {
    await layout.close();
  }
}

export const catalogCommand: CliCommand<ListArgs> = {
  command: 'catalog <registry>',
  describe: 'List the repositories of a registry, one a line',
  builder: (y: Argv) => registryFlags(y
    .positional('registry', { type: 'string', describe: 'REGISTRY host[:port]' })
    .option('page-size', pageSizeOption)
    .example('$0 catalog localhost:5000', 'every repository, following the registry\'s pages')
    .example('$0 catalog ghcr.io --json', 'a JSON array of names')),
  run: async (argv, out: Output) => {
    const registry = String(argv.registry).replace(/^docker:\/\//, '').replace(/\/+$/, '');
    if (!/^[a-zA-Z0-9.-]+(:[0-9]+)?$|^\[[0-9a-fA-F:]+\](:[0-9]+)?$/.test(registry)) throw usageError(`${argv.registry}: expected a registry host[:port]${/^https?:\/\//i.test(registry) ? `, without ${registry.split(':')[0]!.toLowerCase()}:// (plain HTTP is --plain-http)` : ''}`);
    const pageSize = pageSizeOf(argv.pageSize);
    const { clientFromFlags } = await import('./registry-options.js');
    const { listCatalogPages } = await import('../registry/tags.js');
    const client = await clientFromFlags(registry, argv);
    try {
      await print(listCatalogPages(client, pageSize ? { pageSize } : {}), out);
      await client.close();
    } catch (err) {
      await client.destroy();
      throw err;
    }
  },
};
