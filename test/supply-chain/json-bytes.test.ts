import assert from 'node:assert/strict';
import { it } from 'node:test';
import { jsonBytes, jsonChunks, jsonTexts } from '../../src/supply-chain/sbom/json-bytes.js';
import { cyclonedxDocument, spdxDocument } from '../../src/supply-chain/sbom/documents.js';

it('jsonBytes writes the bytes of JSON.stringify(doc) and a newline, its large arrays from the text of each element; jsonChunks the same bytes in chunks of about 1 MiB', () => {
  const files = Array.from({ length: 12_000 }, (_, i) => ({
    fileName: `/dir-${i % 7}/f\u00e9-${i}\t"q"\\${'x'.repeat(i % 97)}`,
    SPDXID: `SPDXRef-File-${i}`,
    checksums: [{ algorithm: 'SHA1', checksumValue: String(i) }, { algorithm: 'SHA256', checksumValue: '\u{1F600}' }],
    ...(i % 3 === 0 ? { nested: { empty: [], list: [1, [2, {}], null] } } : {}),
  }));
  const relationships = [{ a: 1 }, undefined, { b: [] }];
  const doc = { first: 'x', creationInfo: { creators: ['a', 'b'] }, files: [] as unknown[], packages: [] as unknown[], relationships: [] as unknown[], last: { k: [] } };
  const whole = { ...doc, files, packages: [], relationships };
  // Three large arrays, in document order: more than one 64 KiB batch of elements, none, and a short one with a hole.
  const bytes = jsonBytes(doc, { files: jsonTexts(files), packages: (function* () {})(), relationships: jsonTexts(relationships) });
  const expected = Buffer.from(`${JSON.stringify(whole)}\n`, 'utf8');
  assert.ok(bytes.equals(expected));
  const chunks = [...jsonChunks(doc, { files: jsonTexts(files), packages: [], relationships: jsonTexts(relationships) })];
  assert.ok(expected.length > 2 << 20 && chunks.length >= 2, `${chunks.length} chunks of ${expected.length} bytes`);
  for (const chunk of chunks) assert.ok(chunk.length > 0 && chunk.length <= 1 << 20);
  assert.ok(Buffer.concat(chunks).equals(expected));
});

it('the SPDX and CycloneDX documents are compact JSON whose file elements, written as text, name each path exactly', () => {
  const paths = ['a', 'dir/quote"d', 'back\\slash', 'tab\there', 'ctl\u0001x', 'line\u2028sep', 'caf\u00e9/\u{1F600}', 'sp ace'].sort();
  const files = paths.map((path, i) => ({ path, size: i, mode: 0o644, sha1: 'a'.repeat(40), sha256: 'b'.repeat(64), layer: 0 }));
  const subject = { name: 'oci:dir:t', digest: `sha256:${'c'.repeat(64)}` as const, created: '2026-01-01T00:00:00Z' };
  const spdx = spdxDocument(subject, { files, packages: [] });
  const cdx = cyclonedxDocument(subject, { files, packages: [] });
  for (const bytes of [spdx, cdx]) assert.equal(bytes.toString('utf8'), `${JSON.stringify(JSON.parse(bytes.toString('utf8')))}\n`);
  const s = JSON.parse(spdx.toString('utf8'));
  assert.deepEqual(s.files.map((f: { fileName: string }) => f.fileName), paths.map((p) => `/${p}`));
  assert.deepEqual(new Set(s.files.map((f: { SPDXID: string }) => f.SPDXID)).size, paths.length);
  const contained = s.relationships.filter((r: { relationshipType: string }) => r.relationshipType === 'CONTAINS').map((r: { relatedSpdxElement: string }) => r.relatedSpdxElement);
  assert.deepEqual(contained, s.files.map((f: { SPDXID: string }) => f.SPDXID));
  const c = JSON.parse(cdx.toString('utf8'));
  assert.deepEqual(c.components.map((f: { name: string; 'bom-ref': string }) => [f.name, f['bom-ref']]), paths.map((p) => [`/${p}`, `file:/${p}`]));
});
