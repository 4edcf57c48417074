import { OcipushError } from '../errors.js';
import { isDigest, type Digest } from './digest.js';

/**
 * A registry reference: `host[:port]/repo/path[:tag][@digest]`. A name with no registry host is a
 * Docker Hub name (`alpine` → `docker.io/library/alpine`), as docker and crane read it.
 */
export interface Reference {
  registry: string;
  repository: string;
  tag?: string;
  digest?: Digest;
}

export const DOCKER_HUB = 'docker.io';
const REPO_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
/** distribution/reference's RepositoryNameTotalLengthMax: the path after the host; a registry answers a longer one with a 500. */
export const REPOSITORY_MAX_LENGTH = 255;
const TAG = /^[\w][\w.-]{0,127}$/;

/** A tag as the distribution spec allows it: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`. */
export function isValidTag(tag: string): boolean {
  return TAG.test(tag);
}

/** `org.opencontainers.image.ref.name` as the image-layout spec defines it: a name in a layout's index.json. */
const REF_COMPONENT = '[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*';
const REF_NAME = new RegExp(`^${REF_COMPONENT}(?:/${REF_COMPONENT})*$`);

export function isLayoutRefName(name: string): boolean {
  return REF_NAME.test(name);
}

/** `--tag NAME` (the library's `tag`) for a layout: a name outside the image-layout spec's grammar is written into index.json for no tool to read back. */
export function assertLayoutRefName(tag: string): void {
  if (!isLayoutRefName(tag)) {
    throw new OcipushError('EUSAGE', `--tag "${tag}": not a valid name (letters and digits, joined by - . _ : @ + or /), e.g. latest or hello:0.1`);
  }
}

/**
 * Whether the first component of a reference (`host.tld`, `host:port`, `localhost`) is a registry
 * rather than part of a repository name, as docker reads it. (parseReference also takes an
 * uppercase component for a host: a repository name cannot have one.)
 */
export function looksLikeRegistryHost(component: string): boolean {
  return component.includes('.') || component.includes(':') || component === 'localhost';
}

/** A host as the distribution reference grammar has it: dot-separated labels, each starting and ending with a letter or digit; or an IPv6 literal. */
const REGISTRY_HOST = /^[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?$|^\[[0-9a-fA-F:]+\](?::[0-9]+)?$/;

export function parseReference(text: string): Reference {
  const fail = (why: string): never => { throw new OcipushError('EUSAGE', `invalid image reference "${text}": ${why}`); };
  if (!text) fail('empty');
  // USER:PASSWORD@HOST/REPO, as a git remote carries them: read as a digest after the @, it was
  // refused as "the digest must be sha256:…", and with https:// the line to write kept them.
  const bare = text.replace(/^https?:\/\//i, '');
  const at0 = bare.indexOf('@');
  if (at0 > 0 && !bare.slice(0, at0).includes('/') && bare.slice(at0 + 1).includes('/') && !/^sha(?:256|384|512):/.test(bare.slice(at0 + 1))) {
    fail(`a reference holds no user name or password: write ${bare.slice(at0 + 1)}, with -u USER --password-stdin (or ocipush login ${bare.slice(at0 + 1).split('/')[0]!} first)`);
  }
  // A URL pasted from a browser or a registry's docs: the scheme is no part of a reference.
  const scheme = /^(https?):\/\//i.exec(text);
  if (scheme) {
    fail(`a reference has no ${scheme[1]!.toLowerCase()}://: write ${text.slice(scheme[0].length) || 'HOST/REPOSITORY[:TAG]'} (plain HTTP is --plain-http; localhost and 127.x need no flag)`);
  }
  // ./app would read as the registry host "." (a path: the caller's layout or archive forms name those).
  if (/^\.{0,2}\//.test(text)) fail('a path, not a reference (a layout is named oci:DIR, an archive oci-archive:FILE or docker-archive:FILE)');
  // An IPv6 registry alone: no repository could be read from it (a host:port alone is Docker Hub's name:tag).
  const ipv6Host = /^(\[[0-9a-fA-F:]+\](?::[0-9]+)?)\/?$/.exec(text)?.[1];
  if (ipv6Host) fail(`a registry without a repository: write ${ipv6Host}/REPOSITORY[:TAG]`);
  let rest = text;
  let digest: Digest | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    const d = rest.slice(at + 1);
    if (!isDigest(d)) fail('the digest must be sha256:<64 hex digits>');
    digest = d as Digest;
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) fail(`invalid tag "${tag}" (letters, digits and _ . -, at most 128, not starting with . or -)`);
  }
  let registry = DOCKER_HUB;
  let repository = rest;
  const slash = rest.indexOf('/');
  const first = slash >= 0 ? rest.slice(0, slash) : '';
  if (slash >= 0 && (looksLikeRegistryHost(first) || first !== first.toLowerCase())) {
    registry = first;
    repository = rest.slice(slash + 1);
  }
  if (registry === 'index.docker.io' || registry === 'registry-1.docker.io') registry = DOCKER_HUB;
  if (registry === DOCKER_HUB && !repository.includes('/')) repository = `library/${repository}`;
  if (!repository) fail(`a registry without a repository: write ${registry}/REPOSITORY[:TAG]`);
  // hello:0.1:2, hello:v/1: the colon was read as the repository's, since a tag is what follows the last one.
  if (repository.includes(':')) fail(`invalid repository name "${repository}" (a tag follows the last ":" and holds no ":" or "/")`);
  for (const component of repository.split('/')) {
    if (!REPO_COMPONENT.test(component)) fail(`invalid repository name "${repository}" (lowercase letters, digits and . _ - only)`);
  }
  if (repository.length > REPOSITORY_MAX_LENGTH) fail(`the repository name is ${repository.length} characters long, more than ${REPOSITORY_MAX_LENGTH}`);
  if (!REGISTRY_HOST.test(registry)) fail(`invalid registry host "${registry}"`);
  const port = /:([0-9]+)$/.exec(registry)?.[1];
  if (port !== undefined && !isPort(port)) fail(`port ${port} of ${registry} is out of range (1-65535)`);
  const ref: Reference = { registry, repository };
  if (tag) ref.tag = tag;
  if (digest) ref.digest = digest;
  return ref;
}

/** A TCP port: 1 to 65535. */
export function isPort(text: string): boolean {
  return /^[0-9]{1,5}$/.test(text) && Number(text) >= 1 && Number(text) <= 65535;
}

/** The tag or digest to address the manifest by: the digest wins, then the tag, then `latest`. */
export function referenceTarget(ref: Reference): string {
  return ref.digest ?? ref.tag ?? 'latest';
}

export function formatReference(ref: Reference): string {
  let s = `${ref.registry}/${ref.repository}`;
  if (ref.tag) s += `:${ref.tag}`;
  if (ref.digest) s += `@${ref.digest}`;
  return s;
}

/**
 * Loopback hosts get plain HTTP by default (and credentials over it), as docker, crane and skopeo
 * treat them. Loopback is `localhost`, an IPv4 literal in 127.0.0.0/8 or the IPv6 literal `::1`
 * (with or without a port, brackets for IPv6) and nothing else: a DNS name such as `127.evil.test`
 * can point anywhere.
 */
export function isLoopbackRegistry(registry: string): boolean {
  const host = hostOf(registry).toLowerCase();
  if (host === 'localhost') return true;
  const v4 = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (v4) return v4.slice(1).every((part) => Number(part) <= 255 && (part === '0' || !part.startsWith('0')));
  return isIpv6Loopback(host);
}

/** `host:port` → host; `[::1]:5000` or `[::1]` → `::1`; a bare IPv6 address stays whole. */
function hostOf(registry: string): string {
  const bracketed = /^\[([^\]]*)\](?::\d+)?$/.exec(registry);
  if (bracketed) return bracketed[1]!;
  if ((registry.match(/:/g) ?? []).length > 1) return registry;
  return registry.replace(/:\d+$/, '');
}

/** `::1` in any of its spellings (`0:0:0:0:0:0:0:1`, `::0:1` …). */
function isIpv6Loopback(host: string): boolean {
  if (!/^[0-9a-f:]+$/.test(host) || !host.includes(':')) return false;
  const halves = host.split('::');
  if (halves.length > 2) return false;
  const groups = (text: string) => (text === '' ? [] : text.split(':'));
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return false;
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  if (all.some((g) => g.length === 0 || g.length > 4)) return false;
  return all.slice(0, 7).every((g) => Number.parseInt(g, 16) === 0) && Number.parseInt(all[7]!, 16) === 1;
}
