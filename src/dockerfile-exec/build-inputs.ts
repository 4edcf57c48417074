import { readFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative } from 'node:path';
import { OcipushError, fromSystemError } from '../errors.js';
import type { ImageConfig } from '../oci/manifest.js';
import { createIgnoreMatcher, parseDockerignore, type BaseImageConfig, type IgnoreMatcher } from '../dockerfile/index.js';
import { nameFromBytes } from './raw-names.js';

// What build -f reads besides the Dockerfile's text, as the front end takes it.

/** The Dockerfile's name in messages: as given, else relative to the current directory. */
export function displayName(given: string | undefined, path: string): string {
  if (given !== undefined) return given;
  const rel = relative(process.cwd(), path);
  return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? path : rel;
}

/**
 * BuildKit's rule: `<Dockerfile>.dockerignore` beside the Dockerfile wins, else the context's
 * `.dockerignore`.
 */
export async function readDockerignore(dockerfilePath: string | undefined, contextDir: string): Promise<IgnoreMatcher | undefined> {
  const candidates = [join(contextDir, '.dockerignore')];
  if (dockerfilePath) candidates.unshift(join(dirname(dockerfilePath), `${basename(dockerfilePath)}.dockerignore`));
  for (const path of candidates) {
    let text: string;
    try {
      // Its bytes, as patternmatcher compares them: a Latin-1 name is not decoded to U+FFFD.
      text = nameFromBytes(await readFile(path));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') continue;
      throw fromSystemError(err, path, 'cannot read');
    }
    try {
      return createIgnoreMatcher(parseDockerignore(text));
    } catch (err) {
      if (err instanceof OcipushError) throw new OcipushError(err.code, err.message.replace(/^\.dockerignore/, path), { ...err.details, path });
      throw err;
    }
  }
  return undefined;
}

/**
 * SOURCE_DATE_EPOCH as BuildKit's resolveSourceDateEpochValue reads it: `context` is the time of a
 * git or HTTP context, and leaves a local one (the only kind ocipush builds) without an epoch.
 */
export function epochValue(value: string | undefined): string | undefined {
  return value === 'context' ? undefined : value;
}

/** A base image's config as the resolver reads it (its ENV, WORKDIR, USER, SHELL, ONBUILD, os). */
export function baseImageConfig(config: ImageConfig | undefined): BaseImageConfig | undefined {
  if (!config) return undefined;
  const c = config.config ?? {};
  return {
    ...(c.Env ? { env: c.Env } : {}),
    ...(c.WorkingDir ? { workingDir: c.WorkingDir } : {}),
    ...(c.User ? { user: c.User } : {}),
    ...(c.Shell ? { shell: c.Shell } : {}),
    ...(c.OnBuild ? { onBuild: c.OnBuild } : {}),
    ...(config.os ? { os: config.os } : {}),
  };
}
