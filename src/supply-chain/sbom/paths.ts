import { posix } from 'node:path';

/** The paths of a layer's entries, as the SBOM reads them: clean, relative, whiteouts recognised by name. */

export const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';

/** The files whose contents package detection needs. */
export function isMetadataPath(path: string): boolean {
  return path === 'var/lib/dpkg/status'
    || path.startsWith('var/lib/dpkg/status.d/')
    || path === 'lib/apk/db/installed'
    || isRpmDatabasePath(path)
    || isJavaArchivePath(path)
    || isGemspecPath(path)
    || isComposerInstalledPath(path)
    || path === 'etc/os-release' || path === 'usr/lib/os-release'
    || (path.endsWith('/package.json') && path.includes('node_modules/'))
    || path.endsWith('/package-lock.json') || path === 'package-lock.json'
    || isPythonMetadataPath(path);
}

/**
 * rpm's database where rpm keeps it (/var/lib/rpm, or /usr/lib/sysimage/rpm on Fedora 36+ and
 * openSUSE), as syft looks: SQLite's `rpmdb.sqlite`, or Berkeley DB's `Packages` before it.
 */
export function isRpmDatabasePath(path: string): boolean {
  return (path.endsWith('/rpmdb.sqlite') || path.endsWith('/rpm/Packages')) && RPM_DATABASE.test(path);
}

const RPM_DATABASE = /^(var\/lib|usr\/lib\/sysimage|usr\/share)\/rpm\/(rpmdb\.sqlite|Packages)$/;

/** A Java archive, whose Maven artifacts the SBOM lists (the extensions syft reads as such). */
export function isJavaArchivePath(path: string): boolean {
  return JAVA_ARCHIVE.test(path);
}

const JAVA_ARCHIVE = /\.(jar|war|ear|par|sar|nar|kar|jpi|hpi)$/;

/** An installed gem's specification (`…/specifications/NAME-VERSION.gemspec`, default gems' under `specifications/default/`), where syft reads it. */
export function isGemspecPath(path: string): boolean {
  return path.endsWith('.gemspec') && GEMSPEC.test(path);
}

const GEMSPEC = /(^|\/)specifications\/([^/]+\/)*[^/]+\.gemspec$/;

/** What Composer installed into a vendor directory (`vendor/composer/installed.json`, whatever the vendor directory is called). */
export function isComposerInstalledPath(path: string): boolean {
  return path === 'composer/installed.json' || path.endsWith('/composer/installed.json');
}

/**
 * An installed Python distribution's metadata, where syft reads it: a wheel's `*.dist-info/METADATA`,
 * an egg's `*.egg-info/PKG-INFO` or `*.egg/EGG-INFO/PKG-INFO` (setup.py installs, Debian's and
 * Alpine's python3 packages), or a `*.egg-info` that is itself the file.
 */
export function isPythonMetadataPath(path: string): boolean {
  return /\.dist-info\/METADATA$|\.egg-info\/PKG-INFO$|EGG-INFO\/PKG-INFO$|\.egg-info$/.test(path);
}

/** A tar entry name as a clean relative path (`./usr/bin/` → `usr/bin`). */
export function cleanPath(name: string): string {
  // Most names (all of those ocipush writes) are clean already but for a directory's `/`.
  const p = NEEDS_NORMALIZING.test(name) ? posix.normalize(`/${name}`).slice(1) : name;
  return p.endsWith('/') ? p.slice(0, -1) : p;
}

/** A leading `/`, `.` or `..` segments, or an empty segment. */
const NEEDS_NORMALIZING = /^\/|(^|\/)\.{1,2}(\/|$)|\/\//;

/** A whiteout or opaque marker: its content is never hashed. */
export function isWhiteoutPath(path: string): boolean {
  return path.startsWith(WHITEOUT, path.lastIndexOf('/') + 1);
}

/**
 * What a whiteout entry removes: its directory's contents (an opaque marker) or the one path it
 * names; undefined for any other entry. Paths are clean: no trailing `/`, no empty segment.
 */
export function whiteoutTarget(path: string): { path: string; opaque: boolean } | undefined {
  if (!isWhiteoutPath(path)) return undefined;
  const slash = path.lastIndexOf('/');
  const dir = slash < 0 ? '' : path.slice(0, slash);
  const base = path.slice(slash + 1);
  return base === OPAQUE ? { path: dir, opaque: true } : { path: posix.join(dir, base.slice(WHITEOUT.length)), opaque: false };
}
