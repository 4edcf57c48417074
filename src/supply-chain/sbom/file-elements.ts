import type { ByteElements } from './json-bytes.js';
import { RecordedFile } from './layer-files.js';
import type { ImageFile } from './scan.js';

/**
 * The per-file elements of the SBOM documents, written as bytes (json-bytes.ts' ByteElements):
 * exactly what JSON.stringify gives for each element's object, with no string made per file.
 * There are tens of thousands of them, made after the layers are done while a core idles; as
 * template strings they were 70 MB of short-lived garbage (48,828 files), for a collector that
 * the CLI keeps to a small young generation.
 */

/** SPDX `files`: { fileName, SPDXID, checksums: [{ algorithm: SHA1 … }, { algorithm: SHA256 … }] }. */
export function spdxFileElements(files: readonly ImageFile[]): ByteElements {
  return {
    length: files.length,
    maxBytes: (i) => maxPathBytes(files[i]!.path) + 300,
    write(i, out, at) {
      const f = files[i]!;
      at = put(out, at, SPDX_FILE_NAME);
      at = putPathString(out, at, f.path);
      at = put(out, at, SPDX_FILE_ID);
      at = putDecimal(out, at, i + 1);
      at = put(out, at, SPDX_SHA1);
      at = putDigest(out, at, f, 'sha1');
      at = put(out, at, SPDX_SHA256);
      at = putDigest(out, at, f, 'sha256');
      return put(out, at, SPDX_FILE_END);
    },
  };
}

/** SPDX `relationships` of the files: { spdxElementId: <image>, relationshipType: CONTAINS, relatedSpdxElement: <file i> }. */
export function spdxFileRelationships(count: number, imageId: string): ByteElements {
  const head = ascii(`{"spdxElementId":${JSON.stringify(imageId)},"relationshipType":"CONTAINS","relatedSpdxElement":"SPDXRef-File-`);
  return {
    length: count,
    maxBytes: () => head.length + 20,
    write(i, out, at) {
      at = put(out, at, head);
      at = putDecimal(out, at, i + 1);
      return put(out, at, QUOTE_BRACE);
    },
  };
}

/** CycloneDX `components` of the files: { type: file, bom-ref: file:<path>, name, hashes: [{ alg: SHA-1 … }, { alg: SHA-256 … }] }. */
export function cyclonedxFileComponents(files: readonly ImageFile[]): ByteElements {
  return {
    length: files.length,
    maxBytes: (i) => 2 * maxPathBytes(files[i]!.path) + 300,
    write(i, out, at) {
      const f = files[i]!;
      at = put(out, at, CDX_FILE_REF);
      // The bom-ref is "file:" and the name's JSON string without its opening quote.
      const nameAt = at;
      at = putPathString(out, at, f.path);
      out.copyWithin(nameAt, nameAt + 1, at);
      at -= 1;
      at = put(out, at, CDX_FILE_NAME);
      at = putPathString(out, at, f.path);
      at = put(out, at, CDX_SHA1);
      at = putDigest(out, at, f, 'sha1');
      at = put(out, at, CDX_SHA256);
      at = putDigest(out, at, f, 'sha256');
      return put(out, at, CDX_FILE_END);
    },
  };
}

const ascii = (s: string): Buffer => Buffer.from(s, 'latin1');
const SPDX_FILE_NAME = ascii('{"fileName":');
const SPDX_FILE_ID = ascii(',"SPDXID":"SPDXRef-File-');
const SPDX_SHA1 = ascii('","checksums":[{"algorithm":"SHA1","checksumValue":"');
const SPDX_SHA256 = ascii('"},{"algorithm":"SHA256","checksumValue":"');
const SPDX_FILE_END = ascii('"}]}');
const QUOTE_BRACE = ascii('"}');
const CDX_FILE_REF = ascii('{"type":"file","bom-ref":"file:');
const CDX_FILE_NAME = ascii(',"name":');
const CDX_SHA1 = ascii(',"hashes":[{"alg":"SHA-1","content":"');
const CDX_SHA256 = ascii('"},{"alg":"SHA-256","content":"');
const CDX_FILE_END = ascii('"}]}');

/** What JSON.stringify escapes (controls, quote, backslash) and surrogates: such a path goes through JSON.stringify itself. */
const NEEDS_ESCAPE = /[\u0000-\u001f"\\\ud800-\udfff]/;

/** Room for `/<path>` as a JSON string: an escape takes up to 6 bytes per UTF-16 unit, UTF-8 up to 3. */
function maxPathBytes(path: string): number {
  return path.length * 6 + 4;
}

function put(out: Buffer, at: number, bytes: Buffer): number {
  out.set(bytes, at);
  return at + bytes.length;
}

/** `"/<path>"`, as JSON.stringify(`/${path}`) writes it. */
function putPathString(out: Buffer, at: number, path: string): number {
  if (NEEDS_ESCAPE.test(path)) return at + out.write(JSON.stringify(`/${path}`), at);
  out[at++] = 0x22; // "
  out[at++] = 0x2f; // /
  at += out.write(path, at);
  out[at++] = 0x22;
  return at;
}

function putDecimal(out: Buffer, at: number, n: number): number {
  let digits = 1;
  for (let rest = n; rest >= 10; rest = Math.floor(rest / 10)) digits++;
  for (let i = at + digits - 1, rest = n; i >= at; i--, rest = Math.floor(rest / 10)) out[i] = 0x30 + (rest % 10);
  return at + digits;
}

/** A recorded file's digest from its checksum table's bytes; any other file's from its hex string. */
function putDigest(out: Buffer, at: number, f: ImageFile, digest: 'sha1' | 'sha256'): number {
  if (f instanceof RecordedFile) return f.checksums.putHex(f.row, digest, out, at);
  return at + out.write(f[digest], at, 'latin1');
}
