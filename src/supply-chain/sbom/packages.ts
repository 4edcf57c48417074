import { posix } from 'node:path';
import type { DeclaringFile, ImageFiles } from './image-files.js';
import { isComposerInstalledPath, isGemspecPath, isPythonMetadataPath, isRpmDatabasePath } from './paths.js';
import { rpmPackages, type RpmEntry } from './rpmdb.js';

/** A package the image's files declare. */
export interface Package {
  name: string;
  version: string;
  /** deb, apk, rpm, npm, pypi, gem, composer, golang, maven. */
  type: string;
  purl: string;
  /** The file that declares it (`var/lib/dpkg/status`, `…/package.json`, a binary). */
  source: string;
  licenses?: string;
  /** A CPE 2.3 name, where syft gives one (Go's standard library), for scanners that match on CPEs. */
  cpe?: string;
}

/**
 * A purl component percent-encoded as the purl spec and syft (packageurl-go) write it: all but
 * ASCII letters, digits and `.-_~`, so `+` is `%2B` (`1.0-1+deb12u1`, `+incompatible`). A `:` is
 * `%3A`, as syft writes it (the spec would leave it as is; grype and trivy read both).
 */
function enc(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function purl(type: string, namespace: string | undefined, name: string, version: string | undefined, qualifiers: Record<string, string | undefined> = {}): string {
  const ns = namespace ? `${namespace.split('/').map(enc).join('/')}/` : '';
  const q = Object.entries(qualifiers).filter(([, v]) => v).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k}=${enc(v!)}`).join('&');
  return `pkg:${type}/${ns}${enc(name)}${version ? `@${enc(version)}` : ''}${q ? `?${q}` : ''}`;
}

interface OsRelease { id?: string; versionId?: string; buildId?: string }

/**
 * The purl `distro` qualifier as syft writes it: `ID-VERSION_ID` (`debian-12`, `alpine-3.19.0`),
 * else `ID-BUILD_ID`, else the ID alone (Debian testing and sid have no VERSION_ID).
 */
function distroOf(os: OsRelease): string | undefined {
  const version = os.versionId || os.buildId;
  return os.id ? (version ? `${os.id}-${version}` : os.id) : undefined;
}

function osRelease(files: DeclaringFile[]): OsRelease {
  const text = (files.find((f) => f.path === 'etc/os-release') ?? files.find((f) => f.path === 'usr/lib/os-release'))?.content?.toString('utf8');
  if (!text) return {};
  const field = (k: string) => new RegExp(`^${k}=["']?([^"'\\n]*)["']?$`, 'm').exec(text)?.[1];
  return { id: field('ID'), versionId: field('VERSION_ID'), buildId: field('BUILD_ID') };
}

/** RFC 822-style stanzas (dpkg status, METADATA headers): blank-line separated, continuation lines indented. */
function stanzas(text: string): Record<string, string>[] {
  const out: Record<string, string>[] = [];
  for (const block of text.split(/\n\s*\n/)) {
    const fields: Record<string, string> = {};
    let last: string | undefined;
    for (const line of block.split('\n')) {
      if (/^[ \t]/.test(line) && last) { fields[last] += `\n${line.trim()}`; continue; }
      const m = /^([\w.-]+):\s?(.*)$/.exec(line);
      if (m) { last = m[1]!; if (!(last in fields)) fields[last] = m[2]!; }
    }
    if (Object.keys(fields).length > 0) out.push(fields);
  }
  return out;
}

/**
 * The source package a binary package was built from, as syft's `upstream` qualifier names it
 * (grype matches Debian's and Alpine's security data, which are per source package, through it):
 * `Source: openssl` is `openssl`, `Source: busybox (1:1.35.0-4)` (a binary version that differs
 * from the source's: binNMUs, epochs) is `busybox@1:1.35.0-4`.
 */
function debianUpstream(source: string | undefined): string | undefined {
  const m = source ? /^(\S+)(?:\s+\((.*)\))?/.exec(source.trim()) : null;
  return m ? (m[2] ? `${m[1]}@${m[2]}` : m[1]) : undefined;
}

/**
 * A dpkg entry whose files are in the image: its state (the last word of `Status: want flag
 * state`) is anything but `not-installed` and `config-files` (removed, its conffiles kept). An
 * unpacked, half-configured or trigger-pending package is there, as syft and trivy list it;
 * distroless `status.d` entries have no Status.
 */
function onDisk(status: string | undefined): boolean {
  const state = status?.trim().split(/\s+/).pop();
  return state !== 'not-installed' && state !== 'config-files';
}

function dpkg(file: DeclaringFile, os: OsRelease): Package[] {
  const distro = os.id ?? 'debian';
  return stanzas(file.content!.toString('utf8'))
    .filter((s) => s.Package && s.Version && onDisk(s.Status))
    .map((s) => ({
      name: s.Package!, version: s.Version!, type: 'deb', source: file.path,
      purl: purl('deb', distro, s.Package!, s.Version, { arch: s.Architecture, distro: distroOf(os), upstream: debianUpstream(s.Source) }),
    }));
}

function apk(file: DeclaringFile, os: OsRelease): Package[] {
  // The distribution that ships apk (alpine, wolfi, …); a Debian os-release beside an apk database says nothing about it.
  const namespace = os.id && os.id !== 'debian' && os.id !== 'ubuntu' ? os.id : 'alpine';
  const out: Package[] = [];
  for (const block of file.content!.toString('utf8').split(/\n\s*\n/)) {
    const f: Record<string, string> = {};
    for (const line of block.split('\n')) if (line[1] === ':') f[line[0]!] = line.slice(2);
    if (!f.P || !f.V) continue;
    out.push({
      name: f.P, version: f.V, type: 'apk', source: file.path, ...(f.L ? { licenses: f.L } : {}),
      // The origin (source) package, when the package has another name (libcrypto3 from openssl), as syft writes it.
      purl: purl('apk', namespace, f.P, f.V, { arch: f.A, distro: namespace === os.id ? distroOf(os) : undefined, upstream: f.o !== f.P ? f.o : undefined }),
    });
  }
  return out;
}

/**
 * The packages of rpm's database as syft lists them: the version `EPOCH:VERSION-RELEASE` (no
 * `EPOCH:` without one), the purl's namespace the os-release ID (`redhat` for RHEL, `opensuse` for
 * any openSUSE), its version `VERSION-RELEASE` with the epoch as a qualifier, and the source rpm
 * as `upstream` (grype matches Red Hat's security data through it).
 */
function rpm(file: DeclaringFile, os: OsRelease): Package[] {
  let entries: RpmEntry[];
  try {
    entries = rpmPackages(file.content!);
  } catch {
    return []; // a damaged database, as a dpkg status that does not parse: nothing to list
  }
  const namespace = os.id === 'rhel' ? 'redhat' : os.id?.startsWith('opensuse') ? 'opensuse' : os.id;
  return entries.map((e) => ({
    name: e.name, version: `${e.epoch !== undefined ? `${e.epoch}:` : ''}${e.version}-${e.release}`, type: 'rpm', source: file.path,
    ...(e.license ? { licenses: e.license } : {}),
    purl: purl('rpm', namespace, e.name, `${e.version}-${e.release}`, { arch: e.arch, epoch: e.epoch?.toString(), upstream: e.sourceRpm, distro: distroOf(os) }),
  }));
}

/** A Java archive's Maven artifacts (its own and those of the archives it holds), as syft names them: `pkg:maven/GROUP/ARTIFACT@VERSION`. */
function java(file: DeclaringFile): Package[] {
  return file.maven!.map((a) => ({
    name: a.artifactId, version: a.version, type: 'maven', source: file.path,
    purl: purl('maven', a.groupId, a.artifactId, a.version),
  }));
}

function npmPackage(file: DeclaringFile): Package[] {
  try {
    const doc = JSON.parse(file.content!.toString('utf8')) as { name?: unknown; version?: unknown; license?: unknown; licenses?: unknown };
    if (typeof doc.name !== 'string' || typeof doc.version !== 'string') return [];
    // Only the package.json directly in node_modules/<dir>/ (or node_modules/@scope/<dir>/), not
    // test fixtures inside a package. The directory is the name the dependent asked for, which an
    // alias (`"lp": "npm:left-pad@1.3.0"`) makes another than the package's own: npm and syft name it by its package.json.
    if (!INSTALLED_PACKAGE_DIR.test(posix.dirname(file.path))) return [];
    return [npm(doc.name, doc.version, file.path, npmLicense(doc))];
  } catch {
    return [];
  }
}

/** A package's own directory in node_modules: a name (npm's never starts with `.`, so not `.bin`), or a scope and a name. */
const INSTALLED_PACKAGE_DIR = /(^|\/)node_modules\/(@[^/]+\/[^/]+|[^@./][^/]*)$/;

/**
 * A package's licence as npm's package.json documentation gives it (`"license": "MIT"`), or in
 * the deprecated forms older packages still carry: `"license": {"type": "MIT"}` and
 * `"licenses": [{"type": "MIT"}, …]` (several: a choice, as npm documented it).
 */
function npmLicense(doc: { license?: unknown; licenses?: unknown }): string | undefined {
  const type = (l: unknown) => (typeof l === 'string' ? l : typeof (l as { type?: unknown })?.type === 'string' ? (l as { type: string }).type : undefined);
  const one = type(doc.license);
  if (one) return one;
  const list = Array.isArray(doc.licenses) ? doc.licenses.map(type).filter((l): l is string => !!l) : [];
  return list.length > 1 ? `(${list.join(' OR ')})` : list[0];
}

function npm(name: string, version: string, source: string, licenses?: string): Package {
  const scoped = name.startsWith('@') ? name.split('/') : undefined;
  return { name, version, type: 'npm', source, ...(licenses ? { licenses } : {}), purl: scoped ? purl('npm', scoped[0], scoped[1]!, version) : purl('npm', undefined, name, version) };
}

/**
 * What a package-lock.json would install, where nothing is installed beside it. Where its
 * node_modules is, each installed package is listed by its package.json, and what the lock names
 * beyond them is not on disk: another platform's optional binaries (esbuild's `@esbuild/win32-x64`),
 * what `npm ci --omit=…` left out; npm's own tree says "UNMET OPTIONAL DEPENDENCY".
 */
function npmLock(file: DeclaringFile, installedTrees: ReadonlySet<string>): Package[] {
  const base = posix.dirname(file.path) === '.' ? '' : `${posix.dirname(file.path)}/`;
  if (installedTrees.has(base)) return [];
  try {
    const doc = JSON.parse(file.content!.toString('utf8')) as { packages?: Record<string, { version?: string; name?: string; link?: boolean; dev?: boolean; license?: unknown }>; dependencies?: LockV1Dependencies };
    // A dev dependency (`"dev": true`) is left out, as syft and `npm ls --omit=dev` leave it: an
    // image installs without them (`npm ci --omit=dev`).
    if (!doc.packages && doc.dependencies) return npmLockV1(doc.dependencies, file.path);
    return Object.entries(doc.packages ?? {})
      .filter(([key, p]) => key.includes('node_modules/') && typeof p.version === 'string' && !p.link && p.dev !== true)
      // npm 9+ copies each package's licence into its entry.
      .map(([key, p]) => npm(p.name ?? key.slice(key.lastIndexOf('node_modules/') + 'node_modules/'.length), p.version!, file.path, npmLicense(p)));
  } catch {
    return [];
  }
}

type LockV1Dependencies = Record<string, { version?: unknown; dev?: unknown; dependencies?: LockV1Dependencies }>;

/**
 * npm 5 and 6's lockfile (lockfileVersion 1: no `packages`, the tree as nested `dependencies`),
 * as npm 7+ reads it: an alias's version is `npm:NAME@VERSION`. A dependency that is no registry
 * version (`git+https://…#sha`, `file:…`) is not listed: the lock does not say its version.
 */
function npmLockV1(dependencies: LockV1Dependencies, source: string): Package[] {
  const out: Package[] = [];
  const walk = (deps: LockV1Dependencies) => {
    for (const [key, d] of Object.entries(deps)) {
      if (typeof d !== 'object' || d === null || d.dev === true) continue;
      if (typeof d.version === 'string') {
        const alias = /^npm:(@?[^@]+)@([^:/]+)$/.exec(d.version);
        if (alias) out.push(npm(alias[1]!, alias[2]!, source));
        else if (!/[:/]/.test(d.version)) out.push(npm(key, d.version, source));
      }
      if (d.dependencies && typeof d.dependencies === 'object') walk(d.dependencies);
    }
  };
  walk(dependencies);
  return out;
}

function python(file: DeclaringFile): Package[] {
  const head = file.content!.toString('utf8').split(/\n\s*\n/)[0] ?? '';
  const [f] = stanzas(head);
  if (!f?.Name || !f.Version) return [];
  const name = f.Name.toLowerCase().replace(/[-_.]+/g, '-');
  // Metadata 2.4 (PEP 639) names the licence by an SPDX expression, `License-Expression`, and
  // deprecates `License`, which newer build backends leave out.
  const license = f['License-Expression'] || (f.License && f.License !== 'UNKNOWN' && !f.License.includes('\n') ? f.License : undefined);
  return [{ name: f.Name, version: f.Version, type: 'pypi', source: file.path, ...(license ? { licenses: license } : {}), purl: purl('pypi', undefined, name, f.Version) }];
}

/**
 * An installed gem, from the specification rubygems wrote for it: read as text, as syft reads it
 * (never evaluated), its `s.name`, `s.version` and `s.licenses` lines.
 */
function gem(file: DeclaringFile): Package[] {
  const text = file.content!.toString('utf8').replace(/\.freeze\b/g, '');
  const field = (name: string) => new RegExp(`^\\s*\\w+\\.${name}\\s*=\\s*["']([^"']*)["']`, 'm').exec(text)?.[1];
  const name = field('name');
  const version = field('version');
  if (!name || !version) return [];
  const licenses = /^\s*\w+\.licenses\s*=\s*\[(.*)\]/m.exec(text)?.[1]?.split(',').map((l) => l.trim().replace(/^["']|["']$/g, '')).filter(Boolean);
  return [{ name, version, type: 'gem', source: file.path, ...(licenses?.length ? { licenses: licenses.join(', ') } : {}), purl: purl('gem', undefined, name, version) }];
}

/**
 * The packages Composer installed, from its record of them (`installed.json`: Composer 2's
 * `{"packages": […]}` or Composer 1's array), all of them as syft lists them (dev packages, when
 * installed, are on disk too): `pkg:composer/VENDOR/NAME@VERSION`. Several licences are a
 * choice, as Composer documents them.
 */
function composer(file: DeclaringFile): Package[] {
  let doc: unknown;
  try { doc = JSON.parse(file.content!.toString('utf8')); } catch { return []; }
  const list = Array.isArray(doc) ? doc : (doc as { packages?: unknown })?.packages;
  if (!Array.isArray(list)) return [];
  return list.flatMap((p: { name?: unknown; version?: unknown; license?: unknown }) => {
    if (typeof p?.name !== 'string' || typeof p.version !== 'string' || !p.name.includes('/')) return [];
    const slash = p.name.indexOf('/');
    const licenses = (Array.isArray(p.license) ? p.license : [p.license]).filter((l): l is string => typeof l === 'string' && l !== '');
    return [{
      name: p.name, version: p.version, type: 'composer', source: file.path,
      ...(licenses.length ? { licenses: licenses.length > 1 ? `(${licenses.join(' OR ')})` : licenses[0]! } : {}),
      purl: purl('composer', p.name.slice(0, slash), p.name.slice(slash + 1), p.version),
    }];
  });
}

function golang(file: DeclaringFile): Package[] {
  const info = file.go!;
  const mods = [...(info.main ? [info.main] : []), ...info.deps];
  const out: Package[] = mods.map((m) => {
    const slash = m.path.lastIndexOf('/');
    const version = m.version === '(devel)' ? undefined : m.version;
    return {
      name: m.path, version: m.version, type: 'golang', source: file.path,
      purl: slash > 0 ? purl('golang', m.path.slice(0, slash), m.path.slice(slash + 1), version) : purl('golang', undefined, m.path, version),
    };
  });
  // The standard library the binary was linked with (`go1.22.5`, `go1.21.0 X:loopvar`), as syft
  // lists it: `pkg:golang/stdlib@1.22.5`, the package grype matches the Go project's own advisories on.
  // Its CPE is NVD's for Go (`1.21rc2` is version 1.21, update rc2), which grype's stdlib matching and Dependency-Track use.
  const go = /^go(\d\S*)/.exec(info.goVersion);
  const cpe = go ? /^(\d+(?:\.\d+)?(?:\.\d+)?)(\w*)/.exec(go[1]!.split('+')[0]!) : null;
  if (go) {
    out.push({
      name: 'stdlib', version: `go${go[1]}`, type: 'golang', source: file.path, licenses: 'BSD-3-Clause', purl: purl('golang', undefined, 'stdlib', go[1]),
      ...(cpe ? { cpe: `cpe:2.3:a:golang:go:${cpe[1]}:${cpe[2] || '-'}:*:*:*:*:*:*` } : {}),
    });
  }
  return out;
}

/** Every package the files declare, sorted by purl then source (deterministic). */
export function detectPackages(files: ImageFiles): Package[] {
  // Only the files whose content was kept (package metadata) or that carry Go build info declare
  // packages: a few among tens of thousands.
  const declaring = files.declaring();
  // The directories with an installed node_modules (`app/` for app/node_modules/x/package.json).
  const installedTrees = new Set<string>();
  for (const { path } of declaring) {
    const at = /(^|\/)node_modules\//.exec(path);
    if (at && path.endsWith('/package.json')) installedTrees.add(path.slice(0, at.index + at[1]!.length));
  }
  const os = osRelease(declaring);
  const out: Package[] = [];
  for (const file of declaring) {
    if (file.go) out.push(...golang(file));
    if (file.maven) out.push(...java(file));
    if (!file.content) continue;
    const p = file.path;
    if (p === 'var/lib/dpkg/status' || (p.startsWith('var/lib/dpkg/status.d/') && !p.endsWith('.md5sums'))) out.push(...dpkg(file, os));
    else if (p === 'lib/apk/db/installed') out.push(...apk(file, os));
    else if (isRpmDatabasePath(p)) out.push(...rpm(file, os));
    else if (p.endsWith('/package.json')) out.push(...npmPackage(file));
    else if (p.endsWith('package-lock.json')) out.push(...npmLock(file, installedTrees));
    else if (isPythonMetadataPath(p)) out.push(...python(file));
    else if (isGemspecPath(p)) out.push(...gem(file));
    else if (isComposerInstalledPath(p)) out.push(...composer(file));
  }
  const seen = new Set<string>();
  return out
    .sort((a, b) => (a.purl < b.purl ? -1 : a.purl > b.purl ? 1 : a.source < b.source ? -1 : a.source > b.source ? 1 : 0))
    .filter((p) => { const key = `${p.purl}\0${p.source}`; if (seen.has(key)) return false; seen.add(key); return true; });
}
