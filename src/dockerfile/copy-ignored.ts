import { parentMatcher, type IgnorePattern } from './dockerignore.js';
import { goQuote } from './go-format.js';
import { cleanPath } from './go-text.js';

/**
 * BuildKit's CopyIgnoredFile check (validateCopySourcePath, on by default since dockerfile 1.21):
 * a COPY or ADD source from the build context that .dockerignore excludes, as written. Not made
 * when the .dockerignore is empty or has `!` exceptions (too hard to judge statically, BuildKit
 * says); the context root (`.`, `/`) only when a pattern excludes every root entry.
 * Returns the warning's message for a source, or undefined.
 */
export function copyIgnoredCheck(patterns: readonly IgnorePattern[] | undefined): ((keyword: 'COPY' | 'ADD', src: string) => string | undefined) | undefined {
  if (!patterns || patterns.length === 0 || patterns.some((p) => p.exclusion)) return undefined;
  const excludesRoot = patterns.some((p) => p.pattern === '*' || p.pattern === '**' || p.pattern === '**/*');
  let matches: ((file: string) => boolean) | undefined;
  return (keyword, written) => {
    const src = cleanPath(written);
    if ((src === '.' || src === '/') && !excludesRoot) return undefined;
    matches ??= parentMatcher(patterns);
    try {
      if (!matches(src)) return undefined;
    } catch {
      return undefined; // a pattern Go's regexp refuses: the build fails on it where it is used
    }
    return `Attempting to ${keyword === 'ADD' ? 'Add' : 'Copy'} file ${goQuote(src)} that is excluded by .dockerignore`;
  };
}
