import assert from 'node:assert/strict';
import { it } from 'node:test';
import { jsonBytes, jsonChunks, jsonTexts, type ByteElements } from '../../src/supply-chain/sbom/json-bytes.js';
import { cyclonedxDocument, spdxDocument } from '../../src/supply-chain/sbom/documents.js';
import { EntryKind, LayerEntries } from '../../src/supply-chain/sbom/layer-entries.js';
import { mergeLayers, type ImageFiles } from '../../src/supply-chain/sbom/image-files.js';
import { recordedFiles } from './image-files-support.js';
import { createHash } from 'node:crypto';

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
  const bytes = jsonBytes(doc, { files: [jsonTexts(files)], packages: [(function* () {})()], relationships: [jsonTexts(relationships)] });
  const expected = Buffer.from(`${JSON.stringify(whole)}\n`, 'utf8');
  assert.ok(bytes.equals(expected));
  const chunks = [...jsonChunks(doc, { files: [jsonTexts(files)], packages: [], relationships: [jsonTexts(relationships)] })];
  assert.ok(expected.length > 2 << 20 && chunks.length >= 2, `${chunks.length} chunks of ${expected.length} bytes`);
  for (const chunk of chunks) assert.ok(chunk.length > 0 && chunk.length <= 1 << 20);
  assert.ok(Buffer.concat(chunks).equals(expected));
});

it('the SPDX and CycloneDX documents are compact JSON whose file elements, written as text, name each path exactly', () => {
  const paths = ['a', 'dir/quote"d', 'back\\slash', 'tab\there', 'ctl\u0001x', 'line\u2028sep', 'caf\u00e9/\u{1F600}', 'sp ace'].sort();
  const files = recordedFiles(paths.map((path) => ({ path, sha1: 'a'.repeat(40), sha256: 'b'.repeat(64) })));
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

it('a large array in segments: text elements and elements that write their own bytes, in order, across chunk boundaries', () => {
  // Elements of 1 to 40,000 bytes, so that some need a chunk of their own and others share one.
  const sizes = Array.from({ length: 300 }, (_, i) => (i * 7919) % 40_000 + 1);
  const texts = sizes.map((n, i) => JSON.stringify({ i, pad: 'é'.repeat(n >> 1) }));
  const asBytes = texts.map((t) => Buffer.from(t, 'utf8'));
  const elements: ByteElements = {
    length: asBytes.length,
    maxBytes: (i) => asBytes[i]!.length,
    write: (i, out, at) => at + asBytes[i]!.copy(out, at),
  };
  const doc = { before: 1, list: [], after: 2 };
  const expected = Buffer.from(`${JSON.stringify({ before: 1, list: [...texts, ...texts, ...texts].map((t) => JSON.parse(t)), after: 2 })}\n`, 'utf8');
  const chunks = [...jsonChunks(doc, { list: [jsonTexts(texts.map((t) => JSON.parse(t))), elements, jsonTexts(texts.map((t) => JSON.parse(t)))] })];
  assert.ok(chunks.length >= 4, `${chunks.length} chunks`);
  assert.ok(Buffer.concat(chunks).equals(expected));
  // A segment of byte elements alone, and an empty one.
  const alone = jsonBytes({ list: [] }, { list: [{ length: 0, maxBytes: () => 0, write: (_i, _out, at) => at }, elements] });
  assert.ok(alone.equals(Buffer.from(`${JSON.stringify({ list: texts.map((t) => JSON.parse(t)) })}\n`, 'utf8')));
});

/** The SPDX and CycloneDX documents of `files`, checked against what JSON.stringify makes of the expected elements. */
function checkFileElements(files: ImageFiles, paths: readonly string[], digests: readonly { sha1: string; sha256: string }[]): Buffer[] {
  const subject = { name: 'oci:dir:t', digest: `sha256:${'c'.repeat(64)}` as const, created: '2026-01-01T00:00:00Z' };
  const spdx = spdxDocument(subject, { files, packages: [] });
  const cdx = cyclonedxDocument(subject, { files, packages: [] });
  for (const bytes of [spdx, cdx]) {
    assert.ok(bytes.length > 2 << 20, 'more than one chunk');
    assert.equal(bytes.toString('utf8'), `${JSON.stringify(JSON.parse(bytes.toString('utf8')))}\n`);
  }
  const s = JSON.parse(spdx.toString('utf8'));
  assert.deepEqual(s.files, paths.map((p, i) => ({
    fileName: `/${p}`, SPDXID: `SPDXRef-File-${i + 1}`,
    checksums: [{ algorithm: 'SHA1', checksumValue: digests[i]!.sha1 }, { algorithm: 'SHA256', checksumValue: digests[i]!.sha256 }],
  })));
  assert.deepEqual(s.relationships.slice(1), paths.map((_, i) => ({ spdxElementId: 'SPDXRef-Image', relationshipType: 'CONTAINS', relatedSpdxElement: `SPDXRef-File-${i + 1}` })));
  const c = JSON.parse(cdx.toString('utf8'));
  assert.deepEqual(c.components, paths.map((p, i) => ({
    type: 'file', 'bom-ref': `file:/${p}`, name: `/${p}`,
    hashes: [{ alg: 'SHA-1', content: digests[i]!.sha1 }, { alg: 'SHA-256', content: digests[i]!.sha256 }],
  })));
  return [spdx, cdx];
}

const digestsOf = (p: string) => ({ sha1: createHash('sha1').update(p).digest('hex'), sha256: createHash('sha256').update(p).digest('hex') });

it('file elements written as bytes from recorded files are the bytes JSON.stringify gives, digests from the checksum table, over many chunks', () => {
  // A tar name is bytes: a lone surrogate cannot be one, an invalid byte is read as U+FFFD.
  const tricky = ['a', 'dir/quote"d', 'back\\slash', 'tab\there', 'ctl\u0001x', 'del\u007fx', 'line\u2028sep', 'caf\u00e9/\u{1F600}', 'sp ace', 'private\ue000use'];
  const paths = [...tricky, ...Array.from({ length: 12_000 }, (_, i) => `usr/share/${'d'.repeat(i % 50 + 1)}/f-${i}-\u00e9`)];
  const files = recordedFiles(paths.map((p) => ({ path: p, ...digestsOf(p) })));
  paths.sort();
  checkFileElements(files, paths, paths.map(digestsOf));
});

it('a layer written from a walk is sorted by its bytes alone, and gives the documents the merge of entries by path gives', () => {
  // A walk's order: each directory's names by their bytes, a directory's contents right after it
  // (`lib/x` before `lib-a`, which path order puts first).
  const names = Array.from({ length: 12_000 }, (_, i) => `usr/lib${['', '-a', '.b', '0'][i % 4]}/${'d'.repeat(i % 40 + 1)}/f-${i}-\u00e9${i % 3 === 0 ? '/' : ''}`);
  const walkKey = (p: string) => Buffer.from(p.replace(/\/$/, '').replaceAll('/', '\u0000'));
  names.sort((a, b) => Buffer.compare(walkKey(a), walkKey(b)));
  const entries = new LayerEntries();
  for (const name of names) {
    const entry = entries.record(Buffer.from(name), name.endsWith('/') ? EntryKind.other : EntryKind.file);
    if (entries.kind(entry) === EntryKind.file) entries.endFile(entries.lastFile(), 1, 0o644, Buffer.from(digestsOf(name).sha1, 'hex'), Buffer.from(digestsOf(name).sha256, 'hex'), undefined, undefined);
  }
  assert.ok(entries.filesStandAlone, 'entries in a walk\'s order stand alone');
  const paths = names.filter((n) => !n.endsWith('/')).sort();
  const alone = checkFileElements(mergeLayers([{ entries, index: 0 }]), paths, paths.map(digestsOf));
  const merged = checkFileElements(mergeLayers([{ entries, index: 0 }, { entries: new LayerEntries(), index: 1 }]), paths, paths.map(digestsOf));
  assert.ok(alone.every((bytes, i) => bytes.equals(merged[i]!)));
  // Out of a walk's order, the same path twice: the later entry is the file.
  const twice = new LayerEntries();
  for (const name of ['b', 'a', 'b']) twice.record(Buffer.from(name), EntryKind.file);
  assert.equal(twice.filesStandAlone, false);
});

it('an element that writes more than the room it declared fails the document, never cuts it', () => {
  const liar: ByteElements = { length: 1, maxBytes: () => 2, write: (_i, out, at) => at + out.write('"abc"', at) };
  assert.throws(() => jsonBytes({ list: [] }, { list: [liar] }), /took 5 bytes, more than the 2 it declared/);
});
