import assert from 'node:assert/strict';
import { it } from 'node:test';
import { jsonBytes, jsonTexts } from '../../src/supply-chain/sbom/json-bytes.js';

it('jsonBytes writes the bytes of JSON.stringify(doc) and a newline, its large arrays from the text of each element', () => {
  const files = Array.from({ length: 2500 }, (_, i) => ({
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
  assert.ok(bytes.length > 200_000);
  assert.ok(bytes.equals(Buffer.from(`${JSON.stringify(whole)}\n`, 'utf8')));
});
