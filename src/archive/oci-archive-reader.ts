import { OcipushError } from '../errors.js';
import { Annotation, type Descriptor } from '../oci/descriptor.js';
import type { ImageIndex } from '../oci/manifest.js';
import { MAX_MANIFEST_BYTES, readSmall } from '../content/verify.js';
import { ArchiveBlobs } from './archive-storage.js';
import { TarIndex } from './tar-index.js';

/**
 * An OCI layout inside a tar file (skopeo's `oci-archive:`), read in place: `index.json` names the
 * images, blobs stream from the archive by offset.
 */
export class OciArchiveReader extends ArchiveBlobs {
  private constructor(tar: TarIndex, readonly index: ImageIndex) {
    super(tar);
  }

  static async open(file: string): Promise<OciArchiveReader> {
    const tar = await TarIndex.open(file);
    const index = await readIndexJson(tar);
    return new OciArchiveReader(tar, index);
  }

  /** The image a name (`ref.name`) or digest picks; none: the only image. */
  async resolve(name?: string): Promise<Descriptor> {
    const entries = this.index.manifests;
    const names = entries.map((d) => d.annotations?.[Annotation.RefName] ?? d.digest).join(', ') || 'none';
    if (name === undefined || name === '') {
      if (entries.length === 1) return entries[0]!;
      if (entries.length === 0) throw new OcipushError('ENOTFOUND', `${this.tar.file}: the archive holds no image`);
      throw new OcipushError('ENOTFOUND', `${this.tar.file}: the archive holds ${entries.length} images, name one (${names})`);
    }
    const found = entries.find((d) => d.annotations?.[Annotation.RefName] === name) ?? entries.find((d) => d.digest === name);
    if (!found) throw new OcipushError('ENOTFOUND', `${this.tar.file}: no image named "${name}" (the archive has: ${names})`);
    return found;
  }
}

/** The archive's `index.json` (an OCI layout's, or docker save ≥ 25's). */
async function readIndexJson(tar: TarIndex): Promise<ImageIndex> {
  const member = tar.get('index.json');
  if (!member || !tar.get('oci-layout')) {
    const other = tar.get('manifest.json') ? `; it is a docker archive: docker-archive:${tar.file} reads it` : tar.nesting('oci-layout', 'index.json');
    throw new OcipushError('EINVALID', `${tar.file}: not an OCI archive (no oci-layout and index.json${other})${tar.truncation()}`);
  }
  const bytes = await readSmall(tar.read(member), MAX_MANIFEST_BYTES, `${tar.file}: index.json`);
  try {
    const index = JSON.parse(bytes.toString('utf8')) as ImageIndex;
    // A layout umoci made and tarred before naming an image: "manifests": null, Go's empty list.
    if (index && typeof index === 'object' && index.manifests === null) index.manifests = [];
    if (!Array.isArray(index.manifests)) throw new Error('no manifests list');
    return index;
  } catch (err) {
    throw new OcipushError('EINVALID', `${tar.file}: index.json is not an image index (${(err as Error).message})`);
  }
}
