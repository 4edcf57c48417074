import { mkdir, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { OcipushError, fromSystemError } from '../errors.js';
import { OciLayout } from '../content/layout.js';
import type { StagingArea } from '../layer/layer.js';

/**
 * The layout a build (`ocipush build`, with or without -f) writes into, checked before any work:
 * an existing layout must be whole (a corrupt index fails now, not after minutes of compression);
 * a missing or empty directory becomes one only when the image is complete; any other directory
 * is refused, never written into. Blobs are staged beside it until then.
 */

/** `org.opencontainers.image.ref.name` as the image-layout spec defines it. */
const REF_COMPONENT = '[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*';
const REF_NAME = new RegExp(`^${REF_COMPONENT}(?:/${REF_COMPONENT})*$`);

export function checkTag(tag: string): void {
  if (!REF_NAME.test(tag)) {
    throw new OcipushError('EUSAGE', `--tag "${tag}": not a valid name (letters and digits, joined by - . _ : @ + or /), e.g. latest or hello:0.1`);
  }
}

export interface LayoutTarget {
  root: string;
  /** The layout when it exists already. */
  layout?: OciLayout;
  staging: StagingArea;
}

export async function prepareTarget(root: string): Promise<LayoutTarget> {
  const where = `layout ${root}`;
  let entries: string[] | undefined;
  try {
    entries = await readdir(root);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') throw new OcipushError('ELAYOUT', fromSystemError(err, root, 'cannot use layout').message, { path: root, cause: err });
  }
  // Temp files and the lock of other ocipush processes building into the same new layout.
  entries = entries?.filter((name) => !/^\..*\.tmp-\d+-[0-9a-f]+$/.test(name) && name !== '.index.json.lock' && !name.startsWith('.ocipush-files-'));
  if (entries === undefined || entries.length === 0) {
    const dir = entries === undefined ? dirname(root) : root;
    await mkdir(dir, { recursive: true }).catch((err) => { throw fromSystemError(err, dir, 'cannot create'); });
    return { root, staging: { dir, where } };
  }
  if (!entries.includes('oci-layout')) {
    throw new OcipushError('ELAYOUT', `${root}: not an OCI image layout (no oci-layout file) and not empty; refusing to write into it`, { path: root });
  }
  const layout = await OciLayout.open(root);
  await layout.readIndex();
  const dir = join(root, 'blobs', 'sha256');
  await mkdir(dir, { recursive: true }).catch((err) => { throw fromSystemError(err, dir, 'cannot create'); });
  return { root, layout, staging: { dir, where } };
}
