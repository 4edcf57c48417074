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
