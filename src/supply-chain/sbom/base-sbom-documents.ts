import { hexDigestOf } from '../../oci/digest.js';
import { cyclonedxAlgorithm, type BaseFile, type BasePackage, type Checksum } from './base-sbom-parse.js';
import type { BaseSbom } from './base-sbom.js';
import type { Package } from './packages.js';

/**
 * What a base image's own SBOM adds to the SBOM of an image built onto it, in either output
 * format: the base's packages and files, marked as the base's, minus what the new layers replace
 * or remove (a file at the same path or under a whiteout; a package whose declaring file the new
 * layers rewrite or remove, or that they declare again under the same purl). Sorted and with ids derived from content, so the same base
 * SBOM gives the same bytes.
 */

export interface BaseContents {
  sbom: BaseSbom;
  packages: BasePackage[];
  files: BaseFile[];
}

const short = (text: string): string => hexDigestOf('sha256', text).slice(0, 16);
const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function packageKey(p: BasePackage): string {
  return JSON.stringify([p.purl ?? '', p.name, p.version ?? '', p.sources, p.checksums, p.licenses ?? '', p.kind ?? '']);
}

/** The base's packages and files that are still there after the new layers, deduplicated and sorted. */
export function baseContents(sbom: BaseSbom, newFilePaths: readonly string[], newPackages: Package[], removed: string[] = []): BaseContents {
  const newPaths = new Set(newFilePaths);
  const removedPaths = new Set(removed);
  // A path the new layers write or remove, or under one they remove (a whiteout, a symlink over
  // a directory) or make a file (the directory it was is gone with its tree).
  const replaced = {
    has: (path: string) => {
      if (newPaths.has(path) || removedPaths.has(path) || removedPaths.has('')) return true;
      for (let slash = path.lastIndexOf('/'); slash > 0; slash = path.lastIndexOf('/', slash - 1)) {
        const dir = path.slice(0, slash);
        if (removedPaths.has(dir) || newPaths.has(dir)) return true;
      }
      return false;
    },
  };
  const purls = new Set(newPackages.map((p) => p.purl));
  const seen = new Set<string>();
  const packages = sbom.packages
    .filter((p) => !p.sources.some((s) => replaced.has(s)) && !(p.purl && purls.has(p.purl)))
    .map((p) => ({ p, key: packageKey(p) }))
    .sort((a, b) => compare(a.key, b.key))
    .filter(({ key }) => { if (seen.has(key)) return false; seen.add(key); return true; })
    .map(({ p }) => p);
  const paths = new Set<string>();
  const files = sbom.files
    .filter((f) => !replaced.has(f.path))
    .sort((a, b) => compare(a.path, b.path) || compare(JSON.stringify(a.checksums), JSON.stringify(b.checksums)))
    .filter((f) => { if (paths.has(f.path)) return false; paths.add(f.path); return true; });
  return { sbom, packages, files };
}

function describe(sbom: BaseSbom): string {
  const how = { referrer: 'OCI referrer', 'cosign-tag': 'cosign .sbom tag', attestation: 'attestation referrer', 'cosign-attestation': 'cosign .att attestation', 'buildkit-attestation': 'BuildKit attestation' }[sbom.via];
  return `packages and files copied from the base image's own ${sbom.format === 'spdx' ? 'SPDX' : 'CycloneDX'} SBOM ${sbom.blob} (${how} ${sbom.carrier} of ${sbom.describes})`;
}

const BASE_DOCUMENT = 'DocumentRef-BaseImage';

/** SPDX 2.3 parts: packages and files (files need a SHA1 in SPDX; one without it is left out), relationships from the base image's package, the base document as an external document. */
export function spdxBaseParts(base: BaseContents, baseImageId: string) {
  const { sbom } = base;
  const packageId = (p: BasePackage) => `SPDXRef-BasePackage-${short(packageKey(p))}`;
  const fileId = (f: BaseFile) => `SPDXRef-BaseFile-${short(f.path)}`;
  const files = base.files.filter((f) => f.checksums.some((c) => c.algorithm === 'SHA1'));
  const spdxChecksums = (list: Checksum[]) => list.map((c) => ({ algorithm: c.algorithm, checksumValue: c.value }));
  return {
    externalDocumentRefs: sbom.spdxNamespace
      ? [{ externalDocumentId: BASE_DOCUMENT, spdxDocument: sbom.spdxNamespace, checksum: { algorithm: 'SHA1', checksumValue: sbom.sha1 } }]
      : [],
    comment: describe(sbom),
    packages: base.packages.map((p) => ({
      name: p.name,
      SPDXID: packageId(p),
      ...(p.version ? { versionInfo: p.version } : {}),
      downloadLocation: 'NOASSERTION',
      filesAnalyzed: false,
      ...(p.checksums.length > 0 ? { checksums: spdxChecksums(p.checksums) } : {}),
      ...(p.sources.length > 0 ? { sourceInfo: `declared by ${p.sources.map((s) => `/${s}`).join(', ')}` } : {}),
      ...(p.licenses ? { licenseDeclared: 'NOASSERTION', comment: `license as declared: ${p.licenses}` } : {}),
      ...(p.purl || p.cpes ? {
        externalRefs: [
          ...(p.cpes ?? []).map((cpe) => ({ referenceCategory: 'SECURITY', referenceType: 'cpe23Type', referenceLocator: cpe })),
          ...(p.purl ? [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: p.purl }] : []),
        ],
      } : {}),
    })),
    files: files.map((f) => ({ fileName: `/${f.path}`, SPDXID: fileId(f), checksums: spdxChecksums(f.checksums) })),
    relationships: [
      ...(sbom.spdxNamespace ? [{ spdxElementId: baseImageId, relationshipType: 'DESCRIBED_BY', relatedSpdxElement: `${BASE_DOCUMENT}:SPDXRef-DOCUMENT` }] : []),
      ...base.packages.map((p) => ({ spdxElementId: baseImageId, relationshipType: 'CONTAINS', relatedSpdxElement: packageId(p) })),
      ...files.map((f) => ({ spdxElementId: baseImageId, relationshipType: 'CONTAINS', relatedSpdxElement: fileId(f) })),
    ],
  };
}

/** CycloneDX 1.6 parts: the base image component's link to the base SBOM, and components marked with `ocipush:base-image`. */
export function cyclonedxBaseParts(base: BaseContents, baseDigest: string) {
  const { sbom } = base;
  const hashes = (list: Checksum[]) => list.map((c) => ({ alg: cyclonedxAlgorithm(c.algorithm), content: c.value }));
  const url = sbom.spdxNamespace ?? (sbom.cyclonedx ? `urn:cdx:${sbom.cyclonedx.serialNumber.slice('urn:uuid:'.length)}/${sbom.cyclonedx.version}` : undefined);
  const mark = { name: 'ocipush:base-image', value: baseDigest };
  return {
    baseComponent: {
      ...(url ? { externalReferences: [{ type: 'bom', url, comment: describe(sbom), hashes: [{ alg: 'SHA-256', content: sbom.sha256 }] }] } : {}),
      properties: [{ name: 'ocipush:base-sbom', value: sbom.blob }, { name: 'ocipush:base-sbom-manifest', value: sbom.carrier }],
    },
    components: [
      ...base.packages.map((p) => ({
        type: p.kind ?? 'library',
        'bom-ref': `base-package:${short(packageKey(p))}`,
        name: p.name,
        ...(p.version ? { version: p.version } : {}),
        ...(p.checksums.length > 0 ? { hashes: hashes(p.checksums) } : {}),
        ...(p.licenses ? { licenses: [{ license: { name: p.licenses } }] } : {}),
        ...(p.cpes ? { cpe: p.cpes[0] } : {}),
        ...(p.purl ? { purl: p.purl } : {}),
        // A component has one cpe: the others as syft writes them, which grype reads.
        properties: [mark, ...p.sources.map((s) => ({ name: 'ocipush:source', value: `/${s}` })), ...(p.cpes ?? []).slice(1).map((cpe) => ({ name: 'syft:cpe23', value: cpe }))],
      })),
      ...base.files.map((f) => ({
        type: 'file',
        'bom-ref': `base-file:/${f.path}`,
        name: `/${f.path}`,
        ...(f.checksums.length > 0 ? { hashes: hashes(f.checksums) } : {}),
        properties: [mark],
      })),
    ],
  };
}
