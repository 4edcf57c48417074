import { DOCKER_HUB } from '../../oci/reference.js';

/** The key docker writes for Docker Hub in config.json and hands to credential helpers. */
export const HUB_SERVER_URL = 'https://index.docker.io/v1/';

const HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);

/**
 * The host[:port] a config key or reference names, as docker's ConvertToHostname reads it:
 * `https://index.docker.io/v1/` → `docker.io`, `http://reg:5000/v2/` → `reg:5000`.
 */
export function registryHost(key: string): string {
  let host = key.trim();
  host = host.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  const slash = host.indexOf('/');
  if (slash >= 0) host = host.slice(0, slash);
  host = host.toLowerCase();
  return HUB_ALIASES.has(host) ? DOCKER_HUB : host;
}

/**
 * A key written without a scheme and with a path (`quay.io/team-a`, as `podman login quay.io/team-a`
 * writes) names a namespace, not its registry; a URL (`https://index.docker.io/v1/`) names its host.
 */
export function isNamespaced(key: string): boolean {
  return !/^[a-z][a-z0-9+.-]*:\/\//i.test(key) && key.trim().replace(/\/+$/, '').includes('/');
}

/** Whether an `auths` key is the registry's own (its host, or a URL naming it), not a namespace in it. */
export function isRegistryKey(key: string, registry: string): boolean {
  return !isNamespaced(key) && registryHost(key) === registryHost(registry);
}

export function sameRegistry(a: string, b: string): boolean {
  return registryHost(a) === registryHost(b);
}

/** What a credential helper is asked about: docker's Hub URL for Hub, the host[:port] otherwise. */
export function helperServerUrl(registry: string): string {
  const host = registryHost(registry);
  return host === DOCKER_HUB ? HUB_SERVER_URL : host;
}
