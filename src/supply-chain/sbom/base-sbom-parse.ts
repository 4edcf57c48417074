import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { OcipushError } from '../../errors.js';
import type { SbomFormat } from './documents.js';

/**
 * A base image's own SBOM (SPDX 2.x JSON or CycloneDX JSON, bare or as the predicate of an
 * in-toto statement, as BuildKit stores it) read into what either output format can carry: the
 * packages (name, version, purl, checksums, licence, the files that declare them) and the files
 * (path, checksums). Anything else in the document is not carried over.
 */

/** Checksum algorithms by their SPDX names (CycloneDX's `SHA-1` is `SHA1` here). */
export type ChecksumAlgorithm = 'MD5' | 'SHA1' | 'SHA256' | 'SHA384' | 'SHA512' | 'SHA3-256' | 'SHA3-384' | 'SHA3-512' | 'BLAKE2b-256' | 'BLAKE2b-384' | 'BLAKE2b-512' | 'BLAKE3';

export interface Checksum {
  algorithm: ChecksumAlgorithm;
  /** Lower-case hex of the length the algorithm gives. */
  value: string;
}

export interface BasePackage {
  name: string;
  version?: string;
  purl?: string;
  /** CPE 2.3 names (syft gives one or more to most packages; scanners match binaries and runtimes on them). */
  cpes?: string[];
  checksums: Checksum[];
  licenses?: string;
  /** Files that declare the package (`var/lib/dpkg/status`), relative, as the base SBOM names them. */
  sources: string[];
  /** CycloneDX's component type, when the base SBOM is CycloneDX (`library`, `operating-system`, …). */
  kind?: string;
}

export interface BaseFile {
  /** Relative, clean: `usr/bin/env`. */
  path: string;
  checksums: Checksum[];
}

export interface ParsedBaseSbom {
  format: SbomFormat;
  /** The SPDX document's namespace, for an `externalDocumentRefs` entry (a bare document's only: its checksum is of these bytes). */
  spdxNamespace?: string;
  /** CycloneDX's `serialNumber` and `version`, for a BOM-Link. */
  cyclonedx?: { serialNumber: string; version: number };
  /** Of the document's bytes as stored (SPDX's external document reference is a SHA1). */
  sha1: string;
  sha256: string;
  packages: BasePackage[];
  files: BaseFile[];
}

const HEX_LENGTH: Record<ChecksumAlgorithm, number> = {
  MD5: 32, SHA1: 40, SHA256: 64, SHA384: 96, SHA512: 128, 'SHA3-256': 64, 'SHA3-384': 96, 'SHA3-512': 128,
  'BLAKE2b-256': 64, 'BLAKE2b-384': 96, 'BLAKE2b-512': 128, BLAKE3: 64,
};

/** SPDX and CycloneDX names of an algorithm → ours (undefined for one either format lacks). */
function algorithm(name: string): ChecksumAlgorithm | undefined {
  const plain = name === 'SHA-1' ? 'SHA1' : name === 'SHA-256' ? 'SHA256' : name === 'SHA-384' ? 'SHA384' : name === 'SHA-512' ? 'SHA512' : name;
  return Object.hasOwn(HEX_LENGTH, plain) ? plain as ChecksumAlgorithm : undefined;
}

/** CycloneDX's name for an algorithm. */
export function cyclonedxAlgorithm(a: ChecksumAlgorithm): string {
  return a === 'SHA1' ? 'SHA-1' : a === 'SHA256' ? 'SHA-256' : a === 'SHA384' ? 'SHA-384' : a === 'SHA512' ? 'SHA-512' : a;
}

/** CycloneDX 1.6 component types that are packages (not the image, not a file). */
const PACKAGE_KINDS = new Set(['application', 'framework', 'library', 'platform', 'operating-system', 'device', 'device-driver', 'firmware', 'machine-learning-model', 'data', 'cryptographic-asset']);

/** CycloneDX's serialNumber pattern (a BOM-Link is made of it). */
const SERIAL = /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const text = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v : undefined);

class Malformed extends Error {}

function fail(message: string): never {
  throw new Malformed(message);
}

function list(doc: Json, key: string): unknown[] {
  const v = doc[key];
  if (v === undefined) return [];
  if (!Array.isArray(v)) fail(`"${key}" is not an array`);
  return v;
}

function checksums(entries: unknown, alg: string, value: string): Checksum[] {
  if (entries === undefined) return [];
  if (!Array.isArray(entries)) fail('checksums are not an array');
  const out: Checksum[] = [];
  for (const c of entries) {
    if (!isObject(c)) fail('a checksum is not an object');
    const a = typeof c[alg] === 'string' ? algorithm(c[alg] as string) : undefined;
    const v = typeof c[value] === 'string' ? (c[value] as string).toLowerCase() : undefined;
    // An algorithm the other format lacks, or a value of the wrong length, is left out (both schemas would refuse it).
    if (a && v && /^[0-9a-f]+$/.test(v) && v.length === HEX_LENGTH[a] && !out.some((o) => o.algorithm === a)) out.push({ algorithm: a, value: v });
  }
  return out.sort((x, y) => (x.algorithm < y.algorithm ? -1 : x.algorithm > y.algorithm ? 1 : 0));
}

/** `/usr/bin/env`, `./usr/bin/env` → `usr/bin/env`; undefined for nothing usable. */
function cleanPath(path: string): string | undefined {
  const p = posix.normalize(`/${path.trim()}`).slice(1).replace(/\/$/, '');
  return p === '' ? undefined : p;
}

/** The files an SPDX `sourceInfo` names: ocipush's `declared by /p`, syft's `acquired package info from X: /p1, /p2`. */
function spdxSources(sourceInfo: unknown): string[] {
  if (typeof sourceInfo !== 'string') return [];
  const m = /^declared by (\/\S.*)$/.exec(sourceInfo) ?? /:\s*(\/\S.*)$/.exec(sourceInfo);
  return m ? m[1]!.split(/,\s*/).filter((p) => p.startsWith('/')).map(cleanPath).filter((p): p is string => p !== undefined) : [];
}

function spdxLicense(p: Json): string | undefined {
  for (const key of ['licenseDeclared', 'licenseConcluded']) {
    const v = text(p[key]);
    if (v && v !== 'NOASSERTION' && v !== 'NONE') return v;
  }
  const declared = typeof p.comment === 'string' ? /^license as declared: (.+)$/.exec(p.comment) : null;
  return declared?.[1];
}

function parseSpdx(doc: Json): Pick<ParsedBaseSbom, 'packages' | 'files' | 'spdxNamespace'> {
  const described = new Set<string>();
  for (const d of list(doc, 'documentDescribes')) if (typeof d === 'string') described.add(d);
  for (const r of list(doc, 'relationships')) {
    if (isObject(r) && r.spdxElementId === doc.SPDXID && r.relationshipType === 'DESCRIBES' && typeof r.relatedSpdxElement === 'string') described.add(r.relatedSpdxElement);
  }
  const packages: BasePackage[] = [];
  for (const p of list(doc, 'packages')) {
    if (!isObject(p) || !text(p.name) || typeof p.SPDXID !== 'string') fail('a package has no name or SPDXID');
    // The image the document describes (and any other container) is not a package of the new image.
    if (described.has(p.SPDXID) || p.primaryPackagePurpose === 'CONTAINER') continue;
    const refs = p.externalRefs === undefined ? [] : Array.isArray(p.externalRefs) ? p.externalRefs : fail('externalRefs is not an array');
    const purl = refs.find((r): r is Json => isObject(r) && r.referenceType === 'purl' && typeof r.referenceLocator === 'string' && r.referenceLocator.startsWith('pkg:'));
    const license = spdxLicense(p);
    const cpes = cpeNames(refs.filter((r) => isObject(r) && r.referenceType === 'cpe23Type').map((r) => (r as Json).referenceLocator));
    packages.push({
      name: p.name as string,
      ...(text(p.versionInfo) ? { version: p.versionInfo as string } : {}),
      ...(purl ? { purl: purl.referenceLocator as string } : {}),
      ...(cpes.length > 0 ? { cpes } : {}),
      checksums: checksums(p.checksums, 'algorithm', 'checksumValue'),
      ...(license ? { licenses: license } : {}),
      sources: spdxSources(p.sourceInfo),
    });
  }
  const files: BaseFile[] = [];
  for (const f of list(doc, 'files')) {
    if (!isObject(f) || typeof f.fileName !== 'string') fail('a file has no fileName');
    const path = cleanPath(f.fileName);
    if (path) files.push({ path, checksums: checksums(f.checksums, 'algorithm', 'checksumValue') });
  }
  // A namespace is a URI (tools that redact it write something else: then there is nothing to refer to).
  const namespace = text(doc.documentNamespace);
  return { packages, files, ...(namespace && /^[a-z][a-z0-9+.-]*:\S+$/i.test(namespace) ? { spdxNamespace: namespace } : {}) };
}

/** The CPE 2.3 formatted strings among `values`, each once, in their order. */
function cpeNames(values: unknown[]): string[] {
  return [...new Set(values.filter((v): v is string => typeof v === 'string' && v.startsWith('cpe:2.3:')))];
}

function cdxLicense(c: Json): string | undefined {
  if (!Array.isArray(c.licenses)) return undefined;
  const names = c.licenses.map((l) => (isObject(l) ? text(l.expression) ?? (isObject(l.license) ? text(l.license.id) ?? text(l.license.name) : undefined) : undefined));
  return names.every((n) => n !== undefined) && names.length > 0 ? names.join(' AND ') : undefined;
}

/** ocipush's `ocipush:source` and syft's `syft:location:N:path` properties. */
function cdxSources(c: Json): string[] {
  if (!Array.isArray(c.properties)) return [];
  return c.properties
    .filter((p): p is Json => isObject(p) && typeof p.value === 'string' && typeof p.name === 'string' && (p.name === 'ocipush:source' || /^syft:location:\d+:path$/.test(p.name)))
    .map((p) => cleanPath(p.value as string)).filter((p): p is string => p !== undefined);
}

function parseCyclonedx(doc: Json): Pick<ParsedBaseSbom, 'packages' | 'files' | 'cyclonedx'> {
  const packages: BasePackage[] = [];
  const files: BaseFile[] = [];
  const visit = (components: unknown[], depth: number): void => {
    for (const c of components) {
      if (!isObject(c) || !text(c.name) || typeof c.type !== 'string') fail('a component has no name or type');
      if (c.type === 'file') {
        const path = cleanPath(c.name as string);
        if (path) files.push({ path, checksums: checksums(c.hashes, 'alg', 'content') });
      } else if (c.type !== 'container') {
        const license = cdxLicense(c);
        // The component's cpe, and the others syft writes as `syft:cpe23` properties.
        const cpes = cpeNames([c.cpe, ...(Array.isArray(c.properties) ? c.properties.filter((p) => isObject(p) && p.name === 'syft:cpe23').map((p) => (p as Json).value) : [])]);
        packages.push({
          name: c.name as string,
          ...(PACKAGE_KINDS.has(c.type) ? { kind: c.type } : {}),
          ...(text(c.version) ? { version: c.version as string } : {}),
          ...(typeof c.purl === 'string' && c.purl.startsWith('pkg:') ? { purl: c.purl } : {}),
          ...(cpes.length > 0 ? { cpes } : {}),
          checksums: checksums(c.hashes, 'alg', 'content'),
          ...(license ? { licenses: license } : {}),
          sources: cdxSources(c),
        });
      }
      if (c.components !== undefined && depth < 8) visit(list(c, 'components'), depth + 1);
    }
  };
  visit(list(doc, 'components'), 0);
  const serial = text(doc.serialNumber);
  return { packages, files, ...(serial && SERIAL.test(serial) ? { cyclonedx: { serialNumber: serial, version: Number.isInteger(doc.version) ? doc.version as number : 1 } } : {}) };
}

const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

function json(bytes: Buffer, where: string, what = 'not JSON'): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new OcipushError('EINVALID', `${where}: ${what} (${(err as Error).message})`);
  }
}

/**
 * Reads a base image's SBOM: the document itself, or an in-toto statement whose predicate it is
 * (BuildKit's attestation), or such a statement in a DSSE envelope (cosign's and ocipush's
 * attestations; the signature is not checked here: no key is given, and the SBOM is taken as
 * the base's referrers are). A statement must be about `subject` when it names subjects.
 * EINVALID, naming `where` and what is wrong, for anything that is not an SPDX 2.x or CycloneDX
 * JSON document of the expected shape.
 */
export function parseBaseSbom(bytes: Buffer, where: string, subject?: string): ParsedBaseSbom {
  let doc = json(bytes, where);
  if (isObject(doc) && typeof doc.payloadType === 'string' && typeof doc.payload === 'string') {
    if (doc.payloadType !== IN_TOTO_PAYLOAD_TYPE) throw new OcipushError('EINVALID', `${where}: a DSSE envelope of ${doc.payloadType}, not of an in-toto statement`);
    doc = json(Buffer.from(doc.payload, 'base64'), where, 'the DSSE payload is not JSON');
  }
  const wrapped = isObject(doc) && typeof doc._type === 'string' && doc._type.startsWith('https://in-toto.io/Statement/') && isObject(doc.predicate);
  if (wrapped) {
    const subjects = Array.isArray((doc as Json).subject) ? ((doc as Json).subject as unknown[]) : [];
    const hexes = subjects.flatMap((s) => (isObject(s) && isObject(s.digest) && typeof s.digest.sha256 === 'string' ? [s.digest.sha256] : []));
    if (subject && hexes.length > 0 && !hexes.includes(subject.replace(/^sha256:/, ''))) throw new OcipushError('EINVALID', `${where}: the statement is about another image`);
    doc = (doc as Json).predicate;
  }
  const sums = { sha1: createHash('sha1').update(bytes).digest('hex'), sha256: createHash('sha256').update(bytes).digest('hex') };
  try {
    if (!isObject(doc)) fail('not a JSON object');
    if (typeof doc.spdxVersion === 'string') {
      if (!/^SPDX-2\.\d+$/.test(doc.spdxVersion)) fail(`SPDX version ${doc.spdxVersion} is not read (2.x is)`);
      const { spdxNamespace, ...rest } = parseSpdx(doc);
      return { format: 'spdx', ...sums, ...rest, ...(spdxNamespace && !wrapped ? { spdxNamespace } : {}) };
    }
    if (doc.bomFormat === 'CycloneDX') {
      const { cyclonedx, ...rest } = parseCyclonedx(doc);
      return { format: 'cyclonedx', ...sums, ...rest, ...(cyclonedx && !wrapped ? { cyclonedx } : {}) };
    }
    fail('neither an SPDX 2.x nor a CycloneDX JSON document');
  } catch (err) {
    if (err instanceof Malformed) throw new OcipushError('EINVALID', `${where}: ${err.message}`);
    throw err;
  }
}
