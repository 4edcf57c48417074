import type { Readable } from 'node:stream';
import { OcipushError } from '../errors.js';
import { createDecompressor, zstdAvailable } from './codec.js';
import { commandDecompressor, hasTool } from './compress/command-decompressor.js';

export { hasTool };

/**
 * Any compressed tar stream made plain: gzip (and zstd where Node's zlib has it) in process, xz,
 * bzip2 (and zstd on Node 20) through their own commands when installed, as BuildKit's ADD and
 * docker load read them. For archives a user hands over (ADD sources, docker/oci archives) and
 * the base layers `COPY --from` reads; the other readers of layers take ./compress/'s
 * createDecompressor, which reads zstd on Node 20 through the same command.
 */
export type ArchiveCompression = 'none' | 'gzip' | 'zstd' | 'xz' | 'bzip2';

/** The command that decompresses a format Node cannot, when it is installed. */
export function decompressTool(compression: ArchiveCompression): string[] | undefined {
  if (compression === 'zstd' && !zstdAvailable()) return hasTool('zstd') ? ['zstd', '-dc'] : undefined;
  if (compression === 'xz') return hasTool('xz') ? ['xz', '-dc'] : undefined;
  if (compression === 'bzip2') return hasTool('bzip2') ? ['bzip2', '-dc'] : undefined;
  return undefined;
}

/** A decompressed byte stream of an archive on disk or of any compressed stream. */
export function decompressed(input: Readable, compression: ArchiveCompression, where: string): Readable {
  if (compression === 'none') return input;
  if (compression === 'gzip' || (compression === 'zstd' && zstdAvailable())) {
    const d = createDecompressor(compression);
    input.on('error', (err) => d.destroy(err));
    d.on('error', () => input.destroy());
    return input.pipe(d);
  }
  const tool = decompressTool(compression);
  if (!tool) {
    throw new OcipushError('EUNSUPPORTED', `${where}: ${compression}-compressed, and no \`${compression === 'bzip2' ? 'bzip2' : compression}\` command is installed to decompress it`);
  }
  const d = commandDecompressor(tool, (message) => new OcipushError('EREAD', `${where}: corrupt ${compression} data (${message})`));
  input.on('error', (err) => d.destroy(err));
  d.on('error', () => input.destroy());
  return input.pipe(d);
}

