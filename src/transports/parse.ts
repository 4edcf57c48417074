import { statSync } from 'node:fs';
import { join } from 'node:path';
import { OcipushError } from '../errors.js';
import { parseReference, type Reference } from '../oci/reference.js';
import { namesDigest } from '../oci/digest.js';
import { parseLayoutTarget } from './layout-reference.js';

/** Where an image is, as skopeo's transports name it. */
export type ImageLocation =
  | { transport: 'registry'; reference: Reference; text: string }
  | { transport: 'oci'; path: string; name?: string; text: string }
  | { transport: 'oci-archive'; path: string; name?: string; text: string }
  | { transport: 'docker-archive'; path: string; name?: string; text: string };

export type TransportName = ImageLocation['transport'];

/**
 * The layout or archive a text names by its transport prefix alone (no file is looked at), or
 * undefined: what a verb that takes only a registry (pull's source, push's destination) checks
 * first, so that `pull docker-archive:app.tar` is not read as the Docker Hub image
 * `docker.io/library/docker-archive:app.tar`.
 */
export function namedTransport(text: string): { transport: Exclude<TransportName, 'registry'>; what: string } | undefined {
  const prefix = /^(oci|oci-archive|docker-archive):/.exec(text)?.[1] as Exclude<TransportName, 'registry'> | undefined;
  if (prefix === undefined) return undefined;
  return { transport: prefix, what: prefix === 'oci' ? 'a layout' : prefix === 'oci-archive' ? 'an OCI archive' : 'a docker archive' };
}

/**
 * The tag an image's location names, which a copy's destination without one takes (as the CLI's
 * and the library's copy default it): a registry reference's, or the tag part of a layout or
 * archive name (`v1`, `app:1` → `1`); none for a digest or `@N`.
 */
export function sourceTag(location: ImageLocation): string | undefined {
  return location.transport === 'registry' ? location.reference.tag : nameTag(location.name);
}

/** The tag part of a layout or archive name (`v1`, `app:1` → `1`); none for a digest or `@N`. */
export function nameTag(name: string | undefined): string | undefined {
  // A digest (sha512 too, as the image spec registers it) names no tag: its hex was taken for one.
  if (!name || namesDigest(name) || name.startsWith('@')) return undefined;
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  return colon > slash ? name.slice(colon + 1) : name.includes('/') ? undefined : name;
}

/** skopeo's transports that ocipush does not read: `containers-storage:app` would otherwise be taken for a Docker Hub image. */
const OTHER_TRANSPORTS = ['containers-storage', 'docker-daemon', 'dir', 'ostree', 'sif', 'tarball'];

/**
 * Reads a reference with its transport: `docker://REF` or a bare `REF` (a registry), `oci:DIR[:name]`
 * or a directory holding an `oci-layout` (a layout), `oci-archive:FILE[:name]`,
 * `docker-archive:FILE[:name:tag|@N]` (the name after the first colon, as skopeo reads it).
 */
export function parseTransport(text: string): ImageLocation {
  if (text.startsWith('docker://')) return { transport: 'registry', reference: parseReference(text.slice('docker://'.length)), text };
  if (text.startsWith('oci-archive:') || text.startsWith('docker-archive:')) {
    const transport = text.startsWith('oci-archive:') ? 'oci-archive' : 'docker-archive';
    const rest = text.slice(transport.length + 1);
    const colon = rest.indexOf(':');
    const path = colon === -1 ? rest : rest.slice(0, colon);
    const name = colon === -1 ? undefined : rest.slice(colon + 1);
    if (path === '') throw new OcipushError('EUSAGE', `${text}: no file named after ${transport}:`);
    return { transport, path, ...(name ? { name } : {}), text };
  }
  const layout = parseLayoutTarget(text);
  if (layout) return { transport: 'oci', path: layout.dir, ...(layout.name !== undefined ? { name: layout.name } : {}), text };
  const notLayout = pathError(text);
  if (notLayout) throw notLayout;
  const other = OTHER_TRANSPORTS.find((t) => text.startsWith(`${t}:`));
  if (other) {
    throw new OcipushError('EUSAGE', `${text}: the ${other}: transport is not supported (use REGISTRY/REPO[:TAG], docker://…, oci:DIR, oci-archive:FILE or docker-archive:FILE)`);
  }
  if (/^https?:\/\//i.test(text)) return { transport: 'registry', reference: parseReference(text), text };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    throw new OcipushError('EUSAGE', `${text}: not an image reference (use REGISTRY/REPO[:TAG], docker://…, oci:DIR, oci-archive:FILE or docker-archive:FILE)`);
  }
  return { transport: 'registry', reference: parseReference(text), text };
}

/**
 * A path (`./x`, `../x`, `/x`) is never a registry reference (`./x` would read as the host `.`):
 * one that holds no layout is named for what it is, a directory skopeo's `dir:` transport wrote
 * (podman save --format docker-dir) included.
 */
function pathError(text: string): OcipushError | undefined {
  if (!/^\.{0,2}\//.test(text) && text !== '.' && text !== '..') return undefined;
  const st = statSync(text, { throwIfNoEntry: false });
  if (st?.isDirectory()) {
    const dirTransport = statSync(join(text, 'manifest.json'), { throwIfNoEntry: false })?.isFile() && statSync(join(text, 'version'), { throwIfNoEntry: false })?.isFile();
    const why = dirTransport
      ? `a directory of skopeo's dir: transport (manifest.json and version), which ocipush does not read; skopeo copy dir:${text} oci:LAYOUT makes a layout of it`
      : 'not an OCI image layout (no oci-layout file)';
    return new OcipushError('ELAYOUT', `${text}: ${why}`, { path: text });
  }
  if (st) return new OcipushError('EUSAGE', `${text}: a file, not an image reference: name an archive as oci-archive:${text} or docker-archive:${text}`);
  return new OcipushError('EUSAGE', `${text}: no such file or directory (a path is not an image reference; a new layout is named oci:${text})`);
}
