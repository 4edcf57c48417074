import { inflateRawSync } from 'node:zlib';
import { isJavaArchivePath } from './paths.js';

/** A Maven artifact a Java archive carries (`META-INF/maven/<group>/<artifact>/pom.properties`). */
export interface MavenArtifact {
  groupId: string;
  artifactId: string;
  version: string;
}

/** Archives inside archives (a Spring Boot jar's BOOT-INF/lib, a war's WEB-INF/lib) are read this deep. */
const MAX_NESTING = 2;
/** A nested archive or a pom.properties larger than this is not inflated (bounded memory, as the file itself is). */
const MAX_INFLATED_BYTES = 64 * 1024 * 1024;
const POM_PROPERTIES = /^META-INF\/maven\/[^/]+\/[^/]+\/pom\.properties$/;

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const STORED = 0;
const DEFLATED = 8;

/**
 * The Maven artifacts of a Java archive (jar, war, ear: a zip), as syft finds them: every
 * `pom.properties` Maven's archiver put under META-INF/maven, in the archive and in the archives
 * it holds. Read from the central directory at the archive's end; an archive that is not a zip
 * this can read (ZIP64, encrypted, damaged) gives none. An archive built without Maven's
 * archiver names no artifact this way and is not listed (syft guesses one from its manifest and
 * file name).
 */
export function mavenArtifacts(bytes: Buffer, depth = 0): MavenArtifact[] {
  let entries: ZipEntry[];
  try {
    entries = centralDirectory(bytes);
  } catch {
    return [];
  }
  const out: MavenArtifact[] = [];
  for (const entry of entries) {
    if (POM_PROPERTIES.test(entry.name)) {
      const data = entryData(bytes, entry);
      const pom = data && properties(data.toString('utf8'));
      if (pom?.groupId && pom.artifactId && pom.version) out.push({ groupId: pom.groupId, artifactId: pom.artifactId, version: pom.version });
    } else if (depth < MAX_NESTING && isJavaArchivePath(entry.name)) {
      const data = entryData(bytes, entry);
      if (data) out.push(...mavenArtifacts(data, depth + 1));
    }
  }
  return out;
}

interface ZipEntry { name: string; method: number; compressedSize: number; size: number; localOffset: number }

function centralDirectory(bytes: Buffer): ZipEntry[] {
  // The end record is the last 22 bytes, unless a comment (up to 64 KiB) follows it.
  let end = -1;
  for (let at = bytes.length - 22; at >= Math.max(0, bytes.length - 22 - 0xffff); at--) {
    if (bytes.readUInt32LE(at) === EOCD) { end = at; break; }
  }
  if (end < 0) throw new Error('no end of central directory');
  const count = bytes.readUInt16LE(end + 10);
  let at = bytes.readUInt32LE(end + 16);
  const entries: ZipEntry[] = [];
  for (let i = 0; i < count; i++) {
    if (bytes.readUInt32LE(at) !== CENTRAL) throw new Error('central directory entry expected');
    const nameLength = bytes.readUInt16LE(at + 28);
    entries.push({
      method: bytes.readUInt16LE(at + 10),
      compressedSize: bytes.readUInt32LE(at + 20),
      size: bytes.readUInt32LE(at + 24),
      localOffset: bytes.readUInt32LE(at + 42),
      name: bytes.toString('utf8', at + 46, at + 46 + nameLength),
    });
    at += 46 + nameLength + bytes.readUInt16LE(at + 30) + bytes.readUInt16LE(at + 32);
  }
  return entries;
}

/** An entry's bytes, stored or inflated; undefined where it cannot be read within bounds. */
function entryData(bytes: Buffer, entry: ZipEntry): Buffer | undefined {
  const at = entry.localOffset;
  if (at + 30 > bytes.length || bytes.readUInt32LE(at) !== LOCAL) return undefined;
  // The local header's own name and extra field lengths (its extra field may differ from the central one).
  const start = at + 30 + bytes.readUInt16LE(at + 26) + bytes.readUInt16LE(at + 28);
  if (start + entry.compressedSize > bytes.length || entry.size > MAX_INFLATED_BYTES) return undefined;
  const data = bytes.subarray(start, start + entry.compressedSize);
  try {
    if (entry.method === STORED) return data;
    if (entry.method === DEFLATED) return inflateRawSync(data, { maxOutputLength: MAX_INFLATED_BYTES });
  } catch {
    return undefined;
  }
  return undefined;
}

/** A Java properties file's `key=value` (or `key: value`) lines; comments and continuations as Maven writes none. */
function properties(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*([^#!\s=:][^=:]*?)\s*[=:]\s*(.*?)\s*$/.exec(line);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}
