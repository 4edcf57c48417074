import { readdir, rmdir } from 'node:fs/promises';
import { OcipushError, fromSystemError } from '../errors.js';
import { assertLayoutRefName, looksLikeRegistryHost } from '../oci/reference.js';
import { OciLayout } from '../content/layout.js';
import { IngestSession } from '../content/ingest.js';
import { removeMadeDirAtSignal } from '../content/created-layout.js';
import { isPrivateRootName } from '../content/layout-files.js';
import type { LockOptions } from '../content/lock.js';
import type { StagingArea } from '../layer/layer.js';

/**
 * The layout a build (`ocipush build`, with or without -f) writes into, checked before any work:
 * an existing layout must be whole (a corrupt index fails now, not after minutes of compression);
 * a missing or empty directory becomes one only when the image is complete; any other directory
 * is refused, never written into. Blobs are staged in the build's ingest session inside it
 * (`.ocipush/ingest/…`) until then: a build killed half way leaves them where the next write
 * into the layout clears them.
 */

export function checkTag(tag: string): void {
  assertLayoutRefName(tag);
  // A name with a repository (`app:1`, `reg:5000/team/app:1`; not a bare tag such as `V1`) is
  // refused with capitals in it, as `docker build -t` refuses it: docker, podman and every
  // registry would refuse the name later (export, load, push), after the build.
  if (!/[:/@]/.test(tag)) return;
  const name = tag.split('@')[0]!;
  const colon = name.lastIndexOf(':');
  const repository = colon > name.lastIndexOf('/') ? name.slice(0, colon) : name;
  const parts = repository.split('/');
  const path = parts.length > 1 && looksLikeRegistryHost(parts[0]!) ? parts.slice(1).join('/') : repository;
  if (/[A-Z]/.test(path)) {
    const lower = repository.slice(0, repository.length - path.length) + path.toLowerCase() + tag.slice(repository.length);
    throw new OcipushError('EUSAGE', `--tag "${tag}": repository name "${path}" must be lowercase, as docker build -t requires; write --tag ${lower}`);
  }
}

export interface LayoutTarget {
  root: string;
  /** The layout when it exists already. */
  layout?: OciLayout;
  /** This build's ingest session in the layout's directory: staged blobs go there. */
  session: IngestSession;
  staging: StagingArea;
  /**
   * Ends the session; when the build failed and made the layout's directory, removes the directory
   * again if nothing else is in it (another build may be making it too).
   */
  finish(failed: boolean): Promise<void>;
}

/** Entries of a layout being made by another process, before its `oci-layout` is written. */
const LAYOUT_PARTS = new Set(['blobs', 'index.json']);

/**
 * The entries of a directory about to be written as a layout (undefined: it does not exist yet),
 * refused when it holds other files and is no layout: a build, and a pull (where skopeo copy would
 * add blobs/ and index.json beside them), never mixes an image into someone's directory.
 */
export async function layoutDirectoryEntries(root: string): Promise<string[] | undefined> {
  let entries: string[];
  try {
    entries = await readdir(root);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw new OcipushError('ELAYOUT', fromSystemError(err, root, 'cannot use layout').message, { path: root, cause: err });
  }
  // ocipush's own files, and a layout other processes are making at this moment.
  const foreign = entries.filter((name) => !isPrivateRootName(name) && !LAYOUT_PARTS.has(name));
  if (foreign.length > 0 && !entries.includes('oci-layout')) {
    throw new OcipushError('ELAYOUT', `${root}: not an OCI image layout (no oci-layout file) and not empty; refusing to write into it`, { path: root });
  }
  return entries;
}

export async function prepareTarget(root: string, liveness: LockOptions = {}): Promise<LayoutTarget> {
  const where = `layout ${root}`;
  const entries = await layoutDirectoryEntries(root);
  const madeDir = entries === undefined;
  let layout: OciLayout | undefined;
  if (entries?.includes('oci-layout')) {
    layout = await OciLayout.open(root, { liveness });
    await layout.readIndex();
  }
  const session = await IngestSession.open(root, liveness);
  if (madeDir) removeMadeDirAtSignal(root);
  if (layout) layout = await OciLayout.open(root, { session, liveness });
  return {
    root,
    ...(layout ? { layout } : {}),
    session,
    staging: { dir: session.dir, where },
    async finish(failed) {
      await session.close();
      if (failed && madeDir) await rmdir(root).catch(() => {});
    },
  };
}
