import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { OcipushError, fromSystemError } from '../errors.js';

/**
 * Why a layout's `oci-layout` marker could not be read, in the words a user needs. The usual
 * slip: naming the directory that holds the default layout (`ocipush push . REF` in a project
 * where `ocipush build` wrote `./oci-layout`), whose `oci-layout` is that layout's directory.
 */
export async function markerReadError(err: unknown, root: string, create: boolean): Promise<Error> {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOTDIR' && !create) {
    return new OcipushError('ELAYOUT', `${root}: a file, not an OCI image layout directory (an OCI archive is oci-archive:FILE)`, { path: root });
  }
  if (code === 'EISDIR') {
    const inner = join(root, 'oci-layout');
    const nested = await stat(join(inner, 'oci-layout')).then((s) => s.isFile(), () => false);
    const why = nested ? `its oci-layout is a directory holding a layout: name that one, ${inner}` : 'its oci-layout is a directory, not the marker file';
    return new OcipushError('ELAYOUT', `${root}: not an OCI image layout (${why})`, { path: root });
  }
  return fromSystemError(err, join(root, 'oci-layout'), 'cannot read');
}
