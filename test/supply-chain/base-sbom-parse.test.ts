import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../support/tools.js';
import { validator } from '../support/sbom.js';
import { parseBaseSbom, type ParsedBaseSbom } from '../../src/supply-chain/sbom/base-sbom-parse.js';
import { baseContents } from '../../src/supply-chain/sbom/base-sbom-documents.js';
import type { BaseSbom } from '../../src/supply-chain/sbom/base-sbom.js';
import { cyclonedxDocument, spdxDocument, type SbomSubject } from '../../src/supply-chain/sbom/documents.js';
import { recordedFiles } from './image-files-support.js';

/**
 * A base image's SBOM as syft writes it (its own snapshots, test/fixtures/syft/) read, and carried
 * into either output format: both documents stay valid against the official schemas.
 */

const syft = (name: string) => readFileSync(join(REPO_ROOT, 'test', 'fixtures', 'syft', name));
const D = (c: string) => `sha256:${c.repeat(64)}` as const;
const schemas = validator();

function asBase(parsed: ParsedBaseSbom): BaseSbom {
  return { ...parsed, image: { name: 'registry.example/base:1', digest: D('b'), layers: 1 }, describes: D('b'), carrier: D('c'), blob: D('d'), via: 'referrer' };
}

function documents(parsed: ParsedBaseSbom) {
  const subject: SbomSubject = { name: 'registry.example/app:1', digest: D('a'), created: '2024-01-01T00:00:00Z', base: { name: 'registry.example/base:1', digest: D('b') } };
  const contents = { files: recordedFiles([]), packages: [], base: baseContents(asBase(parsed), [], []) };
  return { spdx: JSON.parse(spdxDocument(subject, contents).toString()), cdx: JSON.parse(cyclonedxDocument(subject, contents).toString()) };
}

test('syft\'s SPDX: packages with versions, purls, CPEs, licences and declaring files; the image itself is no package', () => {
  const parsed = parseBaseSbom(syft('TestSPDXJSONImageEncoder.golden'), 'syft SPDX');
  assert.equal(parsed.format, 'spdx');
  assert.equal(parsed.spdxNamespace, undefined, 'a redacted namespace is no URI to refer to');
  assert.deepEqual(parsed.packages, [
    { name: 'package-1', version: '1.0.1', cpes: ['cpe:2.3:*:some:package:1:*:*:*:*:*:*:*'], checksums: [], licenses: 'MIT', sources: ['somefile-1.txt'] },
    { name: 'package-2', version: '2.0.1', purl: 'pkg:deb/debian/package-2@2.0.1', cpes: ['cpe:2.3:*:some:package:2:*:*:*:*:*:*:*'], checksums: [], sources: ['somefile-2.txt'] },
  ]);
  const { spdx, cdx } = documents(parsed);
  schemas.spdx(spdx);
  schemas.cyclonedx(cdx);
  assert.deepEqual(cdx.components.filter((c: { type: string }) => c.type !== 'container').map((c: { name: string; purl?: string; cpe?: string }) => [c.name, c.purl, c.cpe]), [
    ['package-1', undefined, 'cpe:2.3:*:some:package:1:*:*:*:*:*:*:*'], ['package-2', 'pkg:deb/debian/package-2@2.0.1', 'cpe:2.3:*:some:package:2:*:*:*:*:*:*:*'],
  ]);
  // The CPEs stay where syft put them, for the scanners that match on them (syft's binary cataloger's runtimes have nothing else).
  const refs = (name: string) => spdx.packages.find((p: { name: string }) => p.name === name).externalRefs;
  assert.deepEqual(refs('package-1'), [{ referenceCategory: 'SECURITY', referenceType: 'cpe23Type', referenceLocator: 'cpe:2.3:*:some:package:1:*:*:*:*:*:*:*' }]);
  assert.deepEqual(refs('package-2'), [
    { referenceCategory: 'SECURITY', referenceType: 'cpe23Type', referenceLocator: 'cpe:2.3:*:some:package:2:*:*:*:*:*:*:*' },
    { referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: 'pkg:deb/debian/package-2@2.0.1' },
  ]);
});

test('syft\'s CycloneDX: libraries and the operating system, with their declaring files (syft:location properties)', () => {
  const parsed = parseBaseSbom(syft('TestCycloneDxImageEncoder.golden'), 'syft CycloneDX');
  assert.equal(parsed.format, 'cyclonedx');
  assert.equal(parsed.cyclonedx, undefined, 'a redacted serial number makes no BOM-Link');
  assert.deepEqual(parsed.packages.map((p) => [p.name, p.version, p.kind, p.sources, p.cpes]), [
    ['package-1', '1.0.1', 'library', ['somefile-1.txt'], ['cpe:2.3:*:some:package:1:*:*:*:*:*:*:*']],
    ['package-2', '2.0.1', 'library', ['somefile-2.txt'], ['cpe:2.3:*:some:package:2:*:*:*:*:*:*:*']],
    ['debian', '1.2.3', 'operating-system', [], undefined],
  ]);
  const { spdx, cdx } = documents(parsed);
  schemas.spdx(spdx);
  schemas.cyclonedx(cdx);
  assert.deepEqual(cdx.components.filter((c: { type: string }) => c.type === 'library').map((c: { cpe?: string }) => c.cpe), ['cpe:2.3:*:some:package:1:*:*:*:*:*:*:*', 'cpe:2.3:*:some:package:2:*:*:*:*:*:*:*']);
  assert.ok(spdx.packages.some((p: { name: string; externalRefs?: { referenceLocator: string }[] }) => p.name === 'package-2' && p.externalRefs?.[0]?.referenceLocator === 'cpe:2.3:*:some:package:2:*:*:*:*:*:*:*'));
  assert.ok(spdx.packages.some((p: { name: string; comment?: string }) => p.name === 'package-1' && p.comment === 'license as declared: MIT'));
});

test('checksums cross over (SHA1 ↔ SHA-1); unknown algorithms and values of the wrong length are left out; SPDX files need a SHA1', () => {
  const sha1 = 'a'.repeat(40);
  const sha256 = 'b'.repeat(64);
  const cdx = Buffer.from(JSON.stringify({
    bomFormat: 'CycloneDX', specVersion: '1.6', serialNumber: 'urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79', version: 2,
    components: [
      { type: 'library', name: 'lib', version: '1', purl: 'pkg:generic/lib@1', hashes: [{ alg: 'SHA-256', content: sha256.toUpperCase() }, { alg: 'SHA-1', content: 'abc' }, { alg: 'WHIRLPOOL', content: sha256 }] },
      { type: 'file', name: '/etc/a', hashes: [{ alg: 'SHA-1', content: sha1 }, { alg: 'SHA-256', content: sha256 }] },
      { type: 'file', name: './etc/b', hashes: [{ alg: 'SHA-256', content: sha256 }] },
    ],
  }));
  const parsed = parseBaseSbom(cdx, 'cdx');
  assert.deepEqual(parsed.packages[0]!.checksums, [{ algorithm: 'SHA256', value: sha256 }]);
  assert.deepEqual(parsed.files.map((f) => f.path), ['etc/a', 'etc/b']);
  assert.deepEqual(parsed.cyclonedx, { serialNumber: 'urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79', version: 2 });
  const { spdx, cdx: out } = documents(parsed);
  schemas.spdx(spdx);
  schemas.cyclonedx(out);
  assert.deepEqual(spdx.files.map((f: { fileName: string }) => f.fileName), ['/etc/a']);
  assert.deepEqual(spdx.packages.find((p: { name: string }) => p.name === 'lib').checksums, [{ algorithm: 'SHA256', checksumValue: sha256 }]);
  const base = out.components.find((c: { type: string }) => c.type === 'container');
  assert.equal(base.externalReferences[0].url, 'urn:cdx:3e671687-395b-41f5-a30f-a58921a69b79/2');
});

test('what is not an SPDX 2 or CycloneDX JSON document of the expected shape is EINVALID, naming it', () => {
  for (const [bytes, why] of [
    ['{not json', /not JSON/],
    ['[]', /not a JSON object/],
    [JSON.stringify({ '@context': 'https://spdx.org/rdf/3.0.1/spdx-context.jsonld', '@graph': [] }), /neither/],
    [JSON.stringify({ spdxVersion: 'SPDX-3.0', packages: [] }), /SPDX version SPDX-3.0/],
    [JSON.stringify({ spdxVersion: 'SPDX-2.3', packages: {} }), /"packages" is not an array/],
    [JSON.stringify({ bomFormat: 'CycloneDX', components: [{ type: 'library' }] }), /a component has no name/],
  ] as const) {
    assert.throws(() => parseBaseSbom(Buffer.from(bytes), 'layer sha256:x'), (err: Error & { code?: string }) => err.code === 'EINVALID' && err.message.startsWith('layer sha256:x: ') && why.test(err.message), bytes);
  }
});

test('an in-toto statement, bare or in a DSSE envelope, gives its predicate; one about another image is EINVALID', () => {
  const predicate = JSON.parse(syft('TestSPDXJSONImageEncoder.golden').toString());
  const statement = (hex: string) => Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', subject: [{ name: 'x', digest: { sha256: hex } }], predicateType: 'https://spdx.dev/Document', predicate }));
  const dsse = (payload: Buffer, payloadType = 'application/vnd.in-toto+json') => Buffer.from(JSON.stringify({ payloadType, payload: payload.toString('base64'), signatures: [] }));
  for (const bytes of [statement('b'.repeat(64)), dsse(statement('b'.repeat(64)))]) {
    const parsed = parseBaseSbom(bytes, 'att', D('b'));
    assert.deepEqual(parsed.packages.map((p) => p.name), ['package-1', 'package-2']);
  }
  assert.throws(() => parseBaseSbom(dsse(statement('e'.repeat(64))), 'att', D('b')), /att: the statement is about another image/);
  assert.throws(() => parseBaseSbom(dsse(Buffer.from('{}'), 'text/plain'), 'att', D('b')), /a DSSE envelope of text\/plain/);
});

test('SPDX package checksums become CycloneDX hashes (SHA1 → SHA-1, SHA256 → SHA-256), and the namespace a bom link', () => {
  const sha1 = 'c'.repeat(40);
  const sha256 = 'd'.repeat(64);
  const parsed = parseBaseSbom(Buffer.from(JSON.stringify({
    spdxVersion: 'SPDX-2.3', SPDXID: 'SPDXRef-DOCUMENT', documentNamespace: 'https://example.com/spdx/base-1',
    packages: [{ SPDXID: 'SPDXRef-p', name: 'zlib', versionInfo: '1.3', checksums: [{ algorithm: 'SHA256', checksumValue: sha256 }, { algorithm: 'SHA1', checksumValue: sha1 }], externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: 'pkg:generic/zlib@1.3' }] }],
  })), 'spdx');
  const { spdx, cdx } = documents(parsed);
  schemas.spdx(spdx);
  schemas.cyclonedx(cdx);
  const zlib = cdx.components.find((c: { name: string }) => c.name === 'zlib');
  assert.deepEqual(zlib.hashes, [{ alg: 'SHA-1', content: sha1 }, { alg: 'SHA-256', content: sha256 }]);
  assert.equal(zlib.purl, 'pkg:generic/zlib@1.3');
  assert.equal(cdx.components.find((c: { type: string }) => c.type === 'container').externalReferences[0].url, 'https://example.com/spdx/base-1');
  assert.equal(spdx.externalDocumentRefs[0].spdxDocument, 'https://example.com/spdx/base-1');
});
