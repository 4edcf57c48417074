import type { ByteElements } from './json-bytes.js';
import type { ImageFiles } from './image-files.js';

/**
 * The per-file elements of the SBOM documents, written as bytes (json-bytes.ts' ByteElements):
 * exactly what JSON.stringify gives for each element's object, with no string made per file.
 * There are tens of thousands of them, made after the layers are done while a core idles; as
 * template strings they were 70 MB of short-lived garbage (48,828 files), for a collector that
 * the CLI keeps to a small young generation.
 */

/** SPDX `files`: { fileName, SPDXID, checksums: [{ algorithm: SHA1 … }, { algorithm: SHA256 … }] }. */
export function spdxFileElements(files: ImageFiles): ByteElements {
  return {
    length: files.length,
    maxBytes: (i) => files.maxPathJsonBytes(i) + 300,
    write(i, out, at) {
      at = put(out, at, SPDX_FILE_NAME);
      at = files.putPathJson(i, out, at);
      at = put(out, at, SPDX_FILE_ID);
      at = putDecimal(out, at, i + 1);
      at = put(out, at, SPDX_SHA1);
      at = files.putHex(i, 'sha1', out, at);
      at = put(out, at, SPDX_SHA256);
      at = files.putHex(i, 'sha256', out, at);
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
export function cyclonedxFileComponents(files: ImageFiles): ByteElements {
  return {
    length: files.length,
    maxBytes: (i) => 2 * files.maxPathJsonBytes(i) + 300,
    write(i, out, at) {
      at = put(out, at, CDX_FILE_REF);
      // The bom-ref is "file:" and the name's JSON string without its opening quote.
      const nameAt = at;
      at = files.putPathJson(i, out, at);
      out.copyWithin(nameAt, nameAt + 1, at);
      at -= 1;
      at = put(out, at, CDX_FILE_NAME);
      at = files.putPathJson(i, out, at);
      at = put(out, at, CDX_SHA1);
      at = files.putHex(i, 'sha1', out, at);
      at = put(out, at, CDX_SHA256);
      at = files.putHex(i, 'sha256', out, at);
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

function put(out: Buffer, at: number, bytes: Buffer): number {
  out.set(bytes, at);
  return at + bytes.length;
}

function putDecimal(out: Buffer, at: number, n: number): number {
  let digits = 1;
  for (let rest = n; rest >= 10; rest = Math.floor(rest / 10)) digits++;
  for (let i = at + digits - 1, rest = n; i >= at; i--, rest = Math.floor(rest / 10)) out[i] = 0x30 + (rest % 10);
  return at + digits;
}
