/** Token scopes in the distribution spec's syntax (`repository:<name>:<actions>`). */
export function pullScope(repository: string): string {
  return `repository:${repository}:pull`;
}

export function pushScope(repository: string): string {
  return `repository:${repository}:pull,push`;
}

/** `/v2/<name>/…`: repository names are path segments already (lowercase, `/`-separated). */
export function v2Path(repository: string, rest: string): string {
  return `/v2/${repository}/${rest}`;
}
