import type { Argv } from 'yargs';
import { usageError, type CliCommand } from './command.js';
import type { Output } from './output.js';
import { registryFlags, type RegistryFlags } from './registry-options.js';

interface CacheArgs extends RegistryFlags {
  action: string;
  repository: string;
  olderThan?: string;
  keep?: number;
  dryRun?: boolean;
}

/** `30d`, `12h`, `45m`: how old an entry may get before prune removes it. */
function parseAge(text: string): number {
  const m = /^(\d+)([dhm])$/.exec(text);
  if (!m) throw usageError(`--older-than ${text}: expected a number with d, h or m (e.g. 30d)`);
  return Number(m[1]) * { d: 86_400_000, h: 3_600_000, m: 60_000 }[m[2] as 'd' | 'h' | 'm'];
}

export const cacheCommand: CliCommand<CacheArgs> = {
  command: 'cache <action> <repository>',
  describe: 'List or prune the layer cache a build keeps in a registry repository (--cache-repo)',
  builder: (y: Argv) => registryFlags(y
    .positional('action', { type: 'string', choices: ['ls', 'prune'], describe: 'ls: list the entries; prune: remove entries' })
    .positional('repository', { type: 'string', describe: 'REGISTRY/REPOSITORY of the cache' })
    .option('older-than', { type: 'string', describe: 'prune: entries created longer ago than this (30d, 12h, 45m)' })
    .option('keep', { type: 'number', describe: 'prune: keep only the N newest entries' })
    .option('dry-run', { type: 'boolean', describe: 'prune: say what would be removed, remove nothing' })
    .example('$0 cache ls registry.example/ci/cache', 'one entry a line: created, diff_id, settings, layer digest and size')
    .example('$0 cache prune registry.example/ci/cache --older-than 30d --keep 200', 'remove old entries (the registry\'s GC frees their blobs)')),
  run: async (argv, out: Output) => {
    if (argv.action === 'prune' && argv.olderThan === undefined && argv.keep === undefined) {
      throw usageError('cache prune: say what to remove with --older-than AGE and/or --keep N');
    }
    if (argv.keep !== undefined && (!Number.isInteger(argv.keep) || argv.keep < 0)) throw usageError(`--keep ${argv.keep}: expected a whole number ≥ 0`);
    const maxAgeMs = argv.olderThan === undefined ? undefined : parseAge(argv.olderThan);
    const { registryReference, withRepository } = await import('./repository-ref.js');
    const { listCacheEntries, pruneCacheEntries } = await import('../assemble/registry-cache-admin.js');
    const ref = await registryReference(argv.repository, 'cache repository');
    if (ref.tag !== undefined || ref.digest !== undefined) throw usageError(`${argv.repository}: a repository, without tag or digest`);
    const name = `${ref.registry}/${ref.repository}`;
    await withRepository(ref, argv, async (repository, client) => {
      const entries = await listCacheEntries(repository, client, (line) => out.warn(line));
      if (argv.action === 'ls') {
        const text = entries.map((e) => `${e.created ?? '-'}  ${e.diffId}  ${e.settings}  ${e.layer.digest}  ${e.layer.size}`).join('\n');
        out.result(text, { repository: name, entries });
        return;
      }
      const removed = await pruneCacheEntries(repository, client, entries, {
        ...(maxAgeMs !== undefined ? { maxAgeMs } : {}), ...(argv.keep !== undefined ? { keep: argv.keep } : {}), dryRun: argv.dryRun === true,
      });
      out.info(`${argv.dryRun ? 'would remove' : 'removed'} ${removed.length} of ${entries.length} cache entries from ${name}`);
      out.result(removed.map((e) => e.tag).join('\n'), { repository: name, removed, kept: entries.length - removed.length, dryRun: argv.dryRun === true });
    });
  },
};
