/**
 * A git source as BuildKit's dfgitutil.ParseGitRef tells one from a local path (gitutil.ParseURL):
 * a git:// or ssh:// URL (any case), the scp-like `user@host:path` (sshutil's gitSSHRegex), or
 * an http(s) URL whose path ends in `.git`. (`github.com/org/repo`, which ParseGitRef also takes,
 * is a local path to COPY and ADD.)
 */
export function isGitRef(src: string): boolean {
  if (/^(git|ssh):\/\//i.test(src) || /^[a-zA-Z0-9_-]+@[a-zA-Z0-9.-]+:/.test(src)) return true;
  const m = /^https?:\/\/[^/?#]*(\/[^?#]*)?/i.exec(src);
  return m !== null && (m[1] ?? '').endsWith('.git');
}

/**
 * A URL ADD downloads, as BuildKit's isHTTPSource tells one: `http://` or `https://` in lower
 * case (a prefix test, not a URL parse) and no git ref. `HTTPS://host/f` is a local path,
 * `HTTPS:/host/f` in the context, for BuildKit and buildah alike.
 */
export function isHttpSource(src: string): boolean {
  return (src.startsWith('http://') || src.startsWith('https://')) && !isGitRef(src);
}
