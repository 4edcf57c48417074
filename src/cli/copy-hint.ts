import { existsSync } from 'node:fs';
import { namedTransport } from '../transports/parse.js';
import { usageError } from './command.js';

/**
 * pull reads a registry into a layout and push a layout into a registry; a layout or an archive
 * where a registry goes (or an archive where the layout goes) is copy's work, as skopeo copy
 * takes any two. The line names what was given and the copy that does it, instead of the
 * network error of a name read as a Docker Hub image or a hint about layout names.
 */
export function refuseForCopy(verb: 'pull' | 'push', text: string, wanted: 'registry' | 'layout', copy: { from: string; to: string }): void {
  const named = namedTransport(text);
  if (!named || (wanted === 'layout' && named.transport === 'oci')) return;
  const does = verb === 'pull' ? 'pull copies from a registry into a layout' : 'push copies from a layout into a registry';
  throw usageError(`${text} is ${named.what}, not a ${wanted}: ${does}; copy takes any two: ocipush copy ${copy.from} ${copy.to}`);
}

/**
 * `push oci:DIR:NAME` or `push docker-archive:FILE` alone, naming one that exists: the image to
 * send, with the registry left out (push's one argument is where it goes). The line shows the
 * command with the registry's place.
 */
export function refuseLoneSource(text: string, tag: string | undefined): void {
  const named = namedTransport(text);
  // An archive or layout that is not there yet, or a --tag of the layout named, is where the image goes: refuseForCopy's case.
  if (!named || tag !== undefined || !existsSync(text.slice(named.transport.length + 1).split(':')[0]!)) return;
  const verb = named.transport === 'oci' ? 'push' : 'copy';
  throw usageError(`${text} is ${named.what}, not a registry, and no registry to copy it to is named: ocipush ${verb} ${text} REGISTRY/REPOSITORY[:TAG]`);
}

/**
 * copy and pull keep an image's bytes and digest, so a Docker v2 schema 2 image (a `docker save`
 * archive's, most of Docker Hub's) stays one in a layout or an OCI archive, as crane keeps it;
 * skopeo's oci: and oci-archive: and umoci look for OCI manifests only ('no descriptor found',
 * 'not implemented'). The line says so before they do, with the command that makes the image OCI:
 * in place in a layout; an archive is written again from `source` (`mutate` does not change one).
 */
export function dockerInLayoutNote(mediaType: string, image: string, archiveSource?: string): string | undefined {
  const kind = mediaType === 'application/vnd.docker.distribution.manifest.v2+json' ? 'a Docker v2 schema 2 manifest'
    : mediaType === 'application/vnd.docker.distribution.manifest.list.v2+json' ? 'a Docker manifest list' : undefined;
  if (kind === undefined) return undefined;
  // An image listed by digest only has no name for mutate to move onto the changed one: it names one.
  const byDigest = image.lastIndexOf('@sha256:');
  const changed = byDigest < 0 ? image : `${image} ${image.slice(0, byDigest)}:NAME`;
  const readers = archiveSource === undefined
    ? `ocipush and crane read it in the layout, skopeo's and umoci's oci: do not; ocipush mutate ${changed} --format oci`
    : `ocipush and podman load read it in the archive, skopeo's oci-archive: does not; ocipush mutate ${archiveSource} ${image} --format oci`;
  return `${image} is ${kind}, kept as the source has it (the same digest): ${readers} makes it OCI (a new digest)`;
}
