import assert from 'node:assert/strict';
import { it } from 'node:test';
import { prettyJson } from '../../src/supply-chain/sbom/pretty-json.js';

it('prettyJson writes the bytes of JSON.stringify(doc, null, 2) and a newline, its large arrays element by element', () => {
  const files = Array.from({ length: 2500 }, (_, i) => ({
    fileName: `/dir-${i % 7}/f\u00e9-${i}\t"q"\\`,
    SPDXID: `SPDXRef-File-${i}`,
    checksums: [{ algorithm: 'SHA1', checksumValue: String(i) }, { algorithm: 'SHA256', checksumValue: '\u{1F600}' }],
    ...(i % 3 === 0 ? { nested: { empty: [], list: [1, [2, {}], null] } } : {}),
  }));
  const relationships = [{ a: 1 }, undefined, { b: [] }];
  const doc = { first: 'x', creationInfo: { creators: ['a', 'b'] }, files: [] as unknown[], packages: [] as unknown[], relationships: [] as unknown[], last: { k: [] } };
  const whole = { ...doc, files, packages: [], relationships };
  // Three large arrays, in document order: more than one batch of elements, none, and a short one with a hole.
  const bytes = prettyJson(doc, { files, packages: (function* () {})(), relationships });
  assert.equal(bytes.toString('utf8'), `${JSON.stringify(whole, null, 2)}\n`);
  assert.ok(bytes.equals(Buffer.from(`${JSON.stringify(whole, null, 2)}\n`, 'utf8')));
});
