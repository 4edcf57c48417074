/**
 * Token scopes (`repository:library/app:pull,push`). Scope sets are merged per resource and
 * written in one canonical order so that the same access always maps to the same cached token.
 */

export function scopeFor(repository: string, actions: string[]): string {
  return `repository:${repository}:${[...new Set(actions)].join(',')}`;
}

interface Resource { prefix: string; actions: Set<string> }

/** Unions the actions asked for each resource; scopes may arrive space-separated (as in a challenge). */
export function mergeScopes(scopes: Iterable<string>): string[] {
  const resources = new Map<string, Resource>();
  for (const scope of [...scopes].flatMap((s) => s.split(' ')).filter(Boolean)) {
    const last = scope.lastIndexOf(':');
    // The name sits between the first and last colon; a scope without both is kept as is.
    const first = scope.indexOf(':');
    if (first === -1 || last === first) {
      resources.set(scope, resources.get(scope) ?? { prefix: scope, actions: new Set() });
      continue;
    }
    const prefix = scope.slice(0, last);
    const resource = resources.get(prefix) ?? { prefix, actions: new Set<string>() };
    for (const action of scope.slice(last + 1).split(',').filter(Boolean)) resource.actions.add(action);
    resources.set(prefix, resource);
  }
  return [...resources.values()]
    .map((r) => (r.actions.size === 0 && !r.prefix.includes(':') ? r.prefix : `${r.prefix}:${[...r.actions].sort().join(',')}`))
    .sort();
}

/** The cache key of a scope set: equal for equal access, whatever the order it was asked in. */
export function scopeKey(scopes: Iterable<string>): string {
  return mergeScopes(scopes).join(' ');
}
