import { pipeline, Readable } from 'node:stream';
import { OcipushError } from '../errors.js';
import type { Descriptor } from '../oci/descriptor.js';
import { digestAlgorithm, digestHex, type Digest } from '../oci/digest.js';
import type { BlobSource } from '../content/blob-source.js';
import type { BlobSourceProvider, OperationOptions, ReadOnlyStorage } from '../content/storage.js';
import { VerifyingStream } from '../content/verify.js';
import type { TarIndex, TarMember } from './tar-index.js';

/** Where an archive keeps a blob by its digest (`blobs/<alg>/<hex>`: oci-archive, docker save ≥ 25, ocipush export). */
export function blobPathInArchive(digest: Digest): string {
  return `blobs/${digestAlgorithm(digest)}/${digestHex(digest)}`;
}

/**
 * Blobs read straight out of a tar archive by offset, verified against their digests as they
 * stream: the read side shared by oci-archive (`blobs/<alg>/<hex>`) and docker-archive (blobs
 * by digest, legacy `<id>/layer.tar` members, and the manifests it makes up for old archives).
 * Nothing is extracted to disk.
 */
export class ArchiveBlobs implements ReadOnlyStorage, BlobSourceProvider {
  /** Blobs that are not files of the archive: manifests made up for archives that have none. */
  private readonly made = new Map<Digest, Buffer>();
  /** Blobs stored under another name than their digest (docker save's `<id>/layer.tar`). */
  private readonly aliases = new Map<Digest, TarMember>();

  constructor(readonly tar: TarIndex) {}

  addMade(digest: Digest, bytes: Buffer): void {
    this.made.set(digest, bytes);
  }

  addAlias(digest: Digest, member: TarMember): void {
    this.aliases.set(digest, member);
  }

  /** Lets go of the archive (a spooled copy of a pipe or a gzip-compressed archive is freed). */
  close(): Promise<void> {
    return this.tar.close();
  }

  /** The member holding a blob: by its digest path, else an alias. */
  member(digest: Digest): TarMember | undefined {
    return this.tar.get(blobPathInArchive(digest)) ?? this.aliases.get(digest);
  }

  async exists(desc: Descriptor): Promise<boolean> {
    const made = this.made.get(desc.digest);
    if (made) return made.length === desc.size;
    return this.member(desc.digest)?.size === desc.size;
  }

  async fetch(desc: Descriptor, options: OperationOptions = {}): Promise<Readable> {
    options.signal?.throwIfAborted();
    const made = this.made.get(desc.digest);
    if (made) return pipeline(Readable.from([made]), new VerifyingStream(desc, `${this.tar.file}: blob ${desc.digest}`), () => {});
    const member = this.require(desc);
    // A member not named by its digest (a legacy `<id>/layer.tar`) is named as the archive has it.
    const named = member.path === blobPathInArchive(desc.digest);
    const verifier = new VerifyingStream(desc, `${this.tar.file}: ${named ? '' : `${member.path}, `}blob ${desc.digest}`);
    // Not pipe(): a digest mismatch, found at the member's end, is an error event that pipe()
    // raised again when the reader was not listening at that moment (a reader peeking at the
    // first bytes), which ended the process. pipeline() keeps it for the reader, as the
    // layout's fetch does, and closes the file when the reader gives up early.
    return pipeline(this.tar.read(member), verifier, () => {});
  }

  blobSource(desc: Descriptor): BlobSource {
    return {
      size: desc.size,
      open: () => this.fetch(desc),
      openRange: async (start, end) => {
        const made = this.made.get(desc.digest);
        if (made) return Readable.from([made.subarray(start, end + 1)]);
        return this.tar.read(this.require(desc), start, end);
      },
    };
  }

  private require(desc: Descriptor): TarMember {
    const member = this.member(desc.digest);
    if (!member) throw new OcipushError('ENOTFOUND', `${this.tar.file}: the archive has no blob ${desc.digest}${this.tar.truncation()}`, { digest: desc.digest });
    return member;
  }
}
