import { OcipushError } from '../errors.js';
import { Annotation, type Descriptor } from '../oci/descriptor.js';
import { DOCKER_HUB, parseReference, type Reference } from '../oci/reference.js';

/**
 * The names an exported image carries in `manifest.json` (`RepoTags`). Docker and podman want
 * `repository:tag`; an OCI layout names images by `org.opencontainers.image.ref.name`, which may
 * be a whole reference (`hello:scratch`, `localhost:5000/hello:0.1`) or a bare tag (`latest`, as
 * umoci and `docker save` ≥ 25 write it), and a bare tag needs a repository from elsewhere.
 */

/** A bare tag: no repository part, so it cannot be a RepoTag on its own. */
export function isBareTag(refName: string): boolean {
  return !refName.includes(':') && !refName.includes('/') && !refName.includes('@');
}

/**
 * The RepoTag for a layout entry, or undefined when the entry names no repository (a bare tag
 * with neither `--repository` nor a containerd image name).
 */
export function repoTagForEntry(entry: Descriptor, repository?: string): string | undefined {
  const refName = entry.annotations?.[Annotation.RefName];
  const containerdName = entry.annotations?.[Annotation.ContainerdImageName];
  if (refName !== undefined && !isBareTag(refName)) return withLowercaseHint(refName, () => normaliseRepoTag(refName, `image name "${refName}"`));
  if (refName !== undefined && repository !== undefined) return normaliseRepoTag(`${repository}:${refName}`, `--repository ${repository} with tag "${refName}"`);
  if (containerdName !== undefined) return normaliseRepoTag(containerdName, `image name "${containerdName}"`);
  return undefined;
}

/**
 * A layout name with capitals in its repository (the image-layout spec allows it, and skopeo
 * writes it; `build --tag` refuses it) is no docker name; the line says which name docker and
 * podman would take.
 */
function withLowercaseHint(name: string, repoTag: () => string): string {
  try {
    return repoTag();
  } catch (err) {
    const colon = name.lastIndexOf(':');
    const split = colon > name.lastIndexOf('/') ? colon : name.length;
    const lower = name.slice(0, split).toLowerCase() + name.slice(split);
    if (lower === name || !(err instanceof OcipushError)) throw err;
    try {
      normaliseRepoTag(lower, lower);
    } catch {
      throw err;
    }
    throw new OcipushError(err.code, `${err.message}; docker and podman take lowercase repositories: name it in the archive, ${name}=${lower}`, err.details);
  }
}

/**
 * Checks a `repository[:tag]` name and gives it the form `docker save` writes: the tag added
 * when missing (`latest`), a digest refused (RepoTags hold tags), the name otherwise kept as the
 * user wrote it. A name that spells out Docker Hub (`docker.io/library/hello:1`, a Docker Hub
 * source) keeps it, in the qualified form skopeo and podman save write: docker load reads it as
 * `hello:1`, and podman load, which takes a name without a registry (`hello:1`) for
 * `localhost/hello:1`, as Docker Hub's.
 */
export function normaliseRepoTag(name: string, what: string): string {
  let ref: Reference;
  try {
    ref = parseReference(name);
  } catch (err) {
    throw new OcipushError('EUSAGE', `${what}: ${(err as Error).message}`);
  }
  if (ref.digest !== undefined && ref.tag === undefined) {
    throw new OcipushError('EUSAGE', `${what}: a digest reference cannot be a tag in a docker archive; use REPO:TAG`);
  }
  if (ref.registry === DOCKER_HUB && DOCKER_HUB_HOSTS.has(name.split('/')[0]!)) return `${DOCKER_HUB}/${ref.repository}:${ref.tag ?? 'latest'}`;
  return familiarName(ref);
}

/** How a name spells out Docker Hub (parseReference reads each as `docker.io`). */
const DOCKER_HUB_HOSTS = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

/** `hello:1` and `me/app:1` as they are (Docker Hub's, to docker), `ghcr.io/me/app:1` unchanged. */
function familiarName(ref: Reference): string {
  let repo = ref.repository;
  if (ref.registry === DOCKER_HUB) {
    if (repo.startsWith('library/') && repo.split('/').length === 2) repo = repo.slice('library/'.length);
  } else {
    repo = `${ref.registry}/${repo}`;
  }
  return `${repo}:${ref.tag ?? 'latest'}`;
}

/** The fully qualified form containerd keeps in `io.containerd.image.name`. */
export function qualifiedName(repoTag: string): string {
  const ref = parseReference(repoTag);
  return `${ref.registry}/${ref.repository}:${ref.tag ?? 'latest'}`;
}

/** Checks `--repository NAME`: a repository without tag or digest. */
export function parseRepositoryFlag(value: string): string {
  const ref = (() => {
    try {
      return parseReference(value);
    } catch (err) {
      throw new OcipushError('EUSAGE', `--repository ${value}: ${(err as Error).message}`);
    }
  })();
  if (ref.tag !== undefined || ref.digest !== undefined) {
    throw new OcipushError('EUSAGE', `--repository ${value}: expected a repository without tag (the layout's tags are appended)`);
  }
  return value;
}
