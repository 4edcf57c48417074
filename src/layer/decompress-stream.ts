import { spawn, spawnSync } from 'node:child_process';
import { PassThrough, type Readable } from 'node:stream';
import { OcipushError } from '../errors.js';
import { createDecompressor, zstdAvailable } from './codec.js';

/**
 * Any compressed tar stream made plain: gzip (and zstd where Node's zlib has it) in process, xz,
 * bzip2 (and zstd on Node 20) through their own commands when installed, as BuildKit's ADD and
 * docker load read them. For archives a user hands over (ADD sources, docker/oci archives), never
 * for layers, whose codecs are ./compress/.
 */
export type ArchiveCompression = 'none' | 'gzip' | 'zstd' | 'xz' | 'bzip2';

/** The command that decompresses a format Node cannot, when it is installed. */
export function decompressTool(compression: ArchiveCompression): string[] | undefined {
  if (compression === 'zstd' && !zstdAvailable()) return hasTool('zstd') ? ['zstd', '-dc'] : undefined;
  if (compression === 'xz') return hasTool('xz') ? ['xz', '-dc'] : undefined;
  if (compression === 'bzip2') return hasTool('bzip2') ? ['bzip2', '-dc'] : undefined;
  return undefined;
}

const toolCache = new Map<string, boolean>();
export function hasTool(name: string): boolean {
  let found = toolCache.get(name);
  if (found === undefined) {
    found = spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
    toolCache.set(name, found);
  }
  return found;
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
  const child = spawn(tool[0]!, tool.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
  const out = new PassThrough();
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
  input.on('error', (err) => { child.kill(); out.destroy(err); });
  child.stdin.on('error', () => {});
  input.pipe(child.stdin);
  child.stdout.pipe(out, { end: false });
  // A reader that stops early (a failed copy) takes the command down with it.
  out.on('close', () => { if (child.exitCode === null) child.kill(); });
  child.on('close', (code) => {
    if (code === 0) out.end();
    else out.destroy(new OcipushError('EREAD', `${where}: corrupt ${compression} data (${stderr.trim().split('\n')[0] || `${tool[0]} exited with ${code}`})`));
  });
  return out;
}

