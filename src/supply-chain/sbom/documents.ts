import { VERSION } from '../../version.js';
import { digestHex, hexDigestOf, type Digest } from '../../oci/digest.js';
import { cyclonedxBaseParts, spdxBaseParts, type BaseContents } from './base-sbom-documents.js';
import type { Package } from './packages.js';
import type { ImageFiles } from './image-files.js';
import { cyclonedxFileComponents, spdxFileElements, spdxFileRelationships } from './file-elements.js';
import { jsonBytes, jsonChunks, jsonTexts, type LargeArray } from './json-bytes.js';

export type SbomFormat = 'spdx' | 'cyclonedx';

export const SBOM_MEDIA_TYPES: Record<SbomFormat, string> = {
  spdx: 'application/spdx+json',
  cyclonedx: 'application/vnd.cyclonedx+json',
};

/** What the SBOM describes: the image by digest, under the name it was asked for. */
export interface SbomSubject {
  /** `registry/repo:tag`, `oci:dir:tag`. */
  name: string;
  digest: Digest;
  /** RFC 3339, second precision: the SBOM's creation time (from --created / SOURCE_DATE_EPOCH / the image's config). */
  created: string;
  /** `registry/repository` when the image is in a registry (purl's repository_url). */
  repository?: string;
  /** The base image, by digest, when known. */
  base?: { name: string; digest: Digest };
}

export interface SbomContents {
  files: ImageFiles;
  packages: Package[];
  /** What the base image's own SBOM adds (its packages and files), when it has one. */
  base?: BaseContents;
}

/** A document names tens of thousands of files: each id is hashed in one call. */
const short = (text: string): string => hexDigestOf('sha256', text).slice(0, 16);

/** A document's top level, and its large arrays, by segments (json-bytes.ts). */
type DocumentParts = [Record<string, unknown>, Record<string, LargeArray>];

/** The document in `format`, in chunks of about 1 MiB made as they are read: for a writer that streams it. */
export function sbomDocumentChunks(format: SbomFormat, subject: SbomSubject, contents: SbomContents): Generator<Buffer> {
  return jsonChunks(...(format === 'cyclonedx' ? cyclonedxParts(subject, contents) : spdxParts(subject, contents)));
}

/**
 * SPDX 2.3 JSON. Every id and the namespace derive from the image digest and the paths, and
 * files and packages come sorted, so the same image gives the same bytes.
 */
export function spdxDocument(subject: SbomSubject, contents: SbomContents): Buffer {
  return jsonBytes(...spdxParts(subject, contents));
}

/** CycloneDX 1.6 JSON, as deterministic as the SPDX document (the serial number derives from the digest). */
export function cyclonedxDocument(subject: SbomSubject, contents: SbomContents): Buffer {
  return jsonBytes(...cyclonedxParts(subject, contents));
}

function spdxParts(subject: SbomSubject, contents: SbomContents): DocumentParts {
  const imageId = 'SPDXRef-Image';
  const packageId = (p: Package) => `SPDXRef-Package-${p.type}-${short(`${p.purl}\0${p.source}`)}`;
  // A file's id is its place in the sorted list, `SPDXRef-File-<i + 1>` (file-elements.ts):
  // unique, the same for the same image, and free (a hash of each path was a fifth of the
  // document's time). The namespace, from the image digest, is what tells documents apart.
  const fromBase = subject.base && contents.base ? spdxBaseParts(contents.base, 'SPDXRef-BaseImage') : undefined;
  const doc = {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: subject.name,
    documentNamespace: `https://ocipush.dev/spdx/${digestHex(subject.digest)}`,
    creationInfo: { created: subject.created, creators: [`Tool: ocipush-${VERSION}`] },
    ...(fromBase && fromBase.externalDocumentRefs.length > 0 ? { externalDocumentRefs: fromBase.externalDocumentRefs } : {}),
    packages: [],
    files: [],
    relationships: [],
  };
  return [doc, {
    packages: [jsonTexts([
      {
        name: subject.name,
        SPDXID: imageId,
        versionInfo: subject.digest,
        downloadLocation: 'NOASSERTION',
        filesAnalyzed: false,
        primaryPackagePurpose: 'CONTAINER',
        checksums: [{ algorithm: 'SHA256', checksumValue: digestHex(subject.digest) }],
        externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: ociPurl(subject) }],
      },
      ...(subject.base ? [{
        name: subject.base.name, SPDXID: 'SPDXRef-BaseImage', versionInfo: subject.base.digest, downloadLocation: 'NOASSERTION',
        filesAnalyzed: false, primaryPackagePurpose: 'CONTAINER',
        checksums: [{ algorithm: 'SHA256', checksumValue: digestHex(subject.base.digest) }],
        ...(fromBase ? { comment: fromBase.comment } : {}),
      }] : []),
      ...contents.packages.map((p) => ({
        name: p.name,
        SPDXID: packageId(p),
        versionInfo: p.version,
        downloadLocation: 'NOASSERTION',
        filesAnalyzed: false,
        sourceInfo: `declared by /${p.source}`,
        ...(p.licenses ? { licenseDeclared: 'NOASSERTION', comment: `license as declared: ${p.licenses}` } : {}),
        externalRefs: [
          ...(p.cpe ? [{ referenceCategory: 'SECURITY', referenceType: 'cpe23Type', referenceLocator: p.cpe }] : []),
          { referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: p.purl },
        ],
      })),
      ...(fromBase?.packages ?? []),
    ])],
    files: [spdxFileElements(contents.files), jsonTexts(fromBase?.files ?? [])],
    relationships: [
      jsonTexts([
        { spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: imageId },
        ...(subject.base ? [{ spdxElementId: imageId, relationshipType: 'DESCENDANT_OF', relatedSpdxElement: 'SPDXRef-BaseImage' }] : []),
        ...contents.packages.map((p) => ({ spdxElementId: imageId, relationshipType: 'CONTAINS', relatedSpdxElement: packageId(p) })),
      ]),
      spdxFileRelationships(contents.files.length, imageId),
      jsonTexts(fromBase?.relationships ?? []),
    ],
  }];
}

function cyclonedxParts(subject: SbomSubject, contents: SbomContents): DocumentParts {
  const hex = digestHex(subject.digest);
  const fromBase = subject.base && contents.base ? cyclonedxBaseParts(contents.base, subject.base.digest) : undefined;
  const uuid = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16)}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
  const doc = {
    bomFormat: 'CycloneDX',
    specVersion: '1.6',
    serialNumber: `urn:uuid:${uuid}`,
    version: 1,
    metadata: {
      timestamp: subject.created,
      tools: { components: [{ type: 'application', name: 'ocipush', version: VERSION }] },
      component: {
        type: 'container',
        'bom-ref': 'image',
        name: subject.name,
        version: subject.digest,
        hashes: [{ alg: 'SHA-256', content: hex }],
        purl: ociPurl(subject),
      },
    },
    components: [],
  };
  return [doc, {
    components: [
      jsonTexts([
        ...(subject.base ? [{ type: 'container', 'bom-ref': 'base-image', name: subject.base.name, version: subject.base.digest, hashes: [{ alg: 'SHA-256', content: digestHex(subject.base.digest) }], ...fromBase?.baseComponent }] : []),
        ...contents.packages.map((p) => ({
          type: 'library',
          'bom-ref': `${p.purl}#${p.source}`,
          name: p.name,
          version: p.version,
          ...(p.cpe ? { cpe: p.cpe } : {}),
          purl: p.purl,
          ...(p.licenses ? { licenses: [{ license: { name: p.licenses } }] } : {}),
          properties: [{ name: 'ocipush:source', value: `/${p.source}` }],
        })),
      ]),
      cyclonedxFileComponents(contents.files),
      jsonTexts(fromBase?.components ?? []),
    ],
  }];
}

/** `pkg:oci/<name>@sha256%3A…?repository_url=…` (purl's oci type). */
function ociPurl(subject: SbomSubject): string {
  const repo = subject.repository;
  const name = repo ? repo.slice(repo.lastIndexOf('/') + 1) : 'image';
  return `pkg:oci/${encodeURIComponent(name)}@${encodeURIComponent(subject.digest)}${repo ? `?repository_url=${encodeURIComponent(repo)}` : ''}`;
}
