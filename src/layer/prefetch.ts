import { readdirSync, realpathSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CACHE_DIR } from '../content/layout-files.js';
import { prefetchXattrs } from './xattrs.js';
import { loadCompressors, type CompressorOptions } from './codec.js';

export interface PrepareOptions {
  /** The layout the build writes into. */
  layout: string;
  /** false: the layer cache is not read (--no-cache). */
  cache: boolean;
}

/**
 * Starts what a build of these rootfs arguments will need and that depends on nothing else: the
 * xattr scan of each directory (getfattr, in a process of its own) and the compression
 * workers (a Node environment each). The CLI calls it before it loads the build's own code, about
 * 100 ms on one core while the other is idle, so neither delays the first blocks any more. Best
 * effort: a bad argument is left for the build to report, and what no build takes finishes or
 * idles without holding the process open.
 *
 * Not when the layout's layer cache has entries: the build may then read no file at all, and a
 * scan and two workers would only slow that rebuild down (0.43 → 0.52 s on the 500 MB tree); nor
 * is the compressor's code loaded then. Resolves once the workers have been asked to start.
 */
export async function prepareDirectoryLayers(rootfs: string[], compression: CompressorOptions, options: PrepareOptions): Promise<void> {
  if (options.cache && hasCacheEntries(options.layout)) return;
  let directories = 0;
  for (const arg of rootfs) {
    try {
      // The real path, as the build names the source: the scan's paths must be the walk's.
      const real = realpathSync(arg);
      if (!statSync(real).isDirectory()) continue;
      prefetchXattrs(real);
      directories++;
    } catch {
      // The build says what is wrong with the argument.
    }
  }
  if (directories === 0) return;
  const { warmCompressors } = await loadCompressors();
  try {
    warmCompressors(compression);
  } catch {
    // An invalid level or thread count: the build rejects it before any work.
  }
}

function hasCacheEntries(layout: string): boolean {
  try {
    return readdirSync(join(resolve(layout), CACHE_DIR, 'layers')).some((name) => name.endsWith('.json'));
  } catch {
    return false;
  }
}
