import type { Argv } from 'yargs';
import { usageError, type CliCommand } from './command.js';
import { layoutOptionDefault } from '../defaults.js';
import { formatBytes, type Output } from './output.js';
import { DEFAULT_STALE_MS } from '../content/liveness.js';

interface GcArgs {
  layout: string;
  dryRun?: boolean;
  cache?: boolean;
  untagged?: boolean;
  prune: string;
}

/** How long the grave of a broken lock is kept (lock.ts says why). */
const STALE_S = DEFAULT_STALE_MS / 1000;

/** `now`, or `90s`, `30m`, `2h`, `7d`: how long a blob nothing reaches is kept after it was written. */
function parseGrace(text: string): number {
  if (text === 'now') return 0;
  const m = /^(\d+)([smhd])$/.exec(text);
  if (!m) throw usageError(`--prune ${text}: expected now, or an age such as 30m, 2h or 7d`);
  return Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
}

export const gcCommand: CliCommand<GcArgs> = {
  command: ['gc', 'prune'],
  describe: 'Remove the blobs of an OCI layout that no image in its index.json reaches, and what killed builds left',
  builder: (y: Argv) => y
    .option('layout', { type: 'string', default: layoutOptionDefault(), describe: 'OCI image layout to clean (env OCIPUSH_LAYOUT)' })
    .option('dry-run', { alias: 'n', type: 'boolean', describe: 'List what would be removed; remove nothing' })
    .option('untagged', { type: 'boolean', describe: 'Also drop the index.json entries without a name (the images skopeo un-names when it moves their tag), and their blobs' })
    .option('prune', { type: 'string', describe: 'Remove the blobs nothing reaches once written this long ago (skopeo, umoci and oras store blobs before index.json names them); now: all of them', default: '1h' })
    .option('cache', { type: 'boolean', default: true, describe: 'Keep the layers the build cache names (--no-cache: drop the cache and them)' })
    .example('$0 gc --layout ./oci-layout --dry-run', 'list the unreachable blobs')
    .example('$0 gc --untagged --dry-run', 'list the un-named images repeated skopeo copies left, and their blobs')
    .example('$0 gc --prune=now', 'also remove the blobs written within the hour that nothing reaches')
    .example('$0 prune --no-cache', 'also forget the layer cache and remove its layers'),
  run: async (argv, out: Output) => {
    const graceMs = parseGrace(argv.prune);
    const { OciLayout } = await import('../content/layout.js');
    const { collectGarbage } = await import('../content/gc.js');
    const { LayerCache } = await import('../layer/cache-store.js');
    const layout = await OciLayout.open(argv.layout);
    const cache = new LayerCache(layout.root);
    const dryRun = argv.dryRun === true;
    const keepCache = argv.cache !== false;
    const result = await collectGarbage(layout, {
      dryRun,
      untagged: argv.untagged === true,
      graceMs,
      keep: async () => {
        if (keepCache) return cache.referencedBlobs();
        if (!dryRun) await cache.clear();
        return [];
      },
    });
    for (const entry of result.dropped) {
      const what = entry.reason === 'untagged'
        ? 'an image without a name'
        : `${entry.name ?? entry.artifactType ?? 'a referrer'}, of ${entry.subject}, which no image in index.json reaches`;
      out.info(`${dryRun ? 'would drop' : 'dropped'} index.json entry ${entry.digest} (${what})`);
    }
    for (const blob of result.removed) out.info(`${dryRun ? 'would remove' : 'removed'} ${blob.digest} (${formatBytes(blob.size)})`);
    for (const path of result.leftovers) out.info(`${dryRun ? 'would clear' : 'cleared'} ${path} (left by a killed process)`);
    for (const path of result.brokenLocks) out.info(`left ${path} (the lock of a killed process, broken less than ${STALE_S} s ago: kept that long in case another process is breaking it too; a gc after that removes it)`);
    const entries = result.dropped.length > 0 ? `${dryRun ? 'would drop' : 'dropped'} ${result.dropped.length} index.json entr${result.dropped.length === 1 ? 'y' : 'ies'}; ` : '';
    const summary = `${entries}${dryRun ? 'would remove' : 'removed'} ${result.removed.length} blob${result.removed.length === 1 ? '' : 's'} (${formatBytes(result.bytes)}) from ${layout.root}, kept ${result.kept}`
      + (result.leftovers.length > 0 ? `; ${dryRun ? 'would clear' : 'cleared'} ${result.leftovers.length} leftover${result.leftovers.length === 1 ? '' : 's'} of killed processes (${formatBytes(result.leftoverBytes)})` : '')
      + (result.recent.length > 0 ? `; left ${result.recent.length} blob${result.recent.length === 1 ? '' : 's'} no image reaches (${formatBytes(result.recent.reduce((n, b) => n + b.size, 0))}), written within ${argv.prune}: another tool (skopeo, umoci, oras) may be about to name ${result.recent.length === 1 ? 'it' : 'them'} (--prune=now removes ${result.recent.length === 1 ? 'it' : 'them'})` : '')
      + (result.brokenLocks.length > 0 ? `; left ${result.brokenLocks.length} lock${result.brokenLocks.length === 1 ? '' : 's'} of killed processes, broken less than ${STALE_S} s ago (a gc after that removes ${result.brokenLocks.length === 1 ? 'it' : 'them'})` : '')
      + (result.forgotten > 0 ? `; ${dryRun ? 'would forget' : 'forgot'} ${result.forgotten} note${result.forgotten === 1 ? '' : 's'} on blobs no image reaches` : '');
    out.result(summary, {
      layout: layout.root,
      dryRun,
      removed: result.removed,
      bytes: result.bytes,
      kept: result.kept,
      recent: result.recent,
      dropped: result.dropped,
      leftovers: result.leftovers,
      leftoverBytes: result.leftoverBytes,
      brokenLocks: result.brokenLocks,
      forgotten: result.forgotten,
    });
  },
};
