import { normalizePlatform } from '../oci/descriptor.js';
import { parseReference } from '../oci/reference.js';
import type { ArgInstruction, DockerfileWarning, Stage } from './instructions.js';
import { ExpansionError, processWord, type EscapeToken, type ExpansionResult } from './lex.js';
import { hostPlatform } from './platform.js';

/**
 * BuildKit's build checks on FROM lines (dockerfile2llb/validations.go), run on every stage as
 * BuildKit runs them, needed by the target or not.
 */

const OSES = new Set(['aix', 'android', 'darwin', 'dragonfly', 'freebsd', 'illumos', 'ios', 'js', 'linux', 'netbsd', 'openbsd', 'plan9', 'solaris', 'wasip1', 'windows']);

/**
 * FromPlatformFlagConstDisallowed and RedundantTargetPlatform, from `--platform` as written and
 * as expanded with the global ARGs (`globals`, holding TARGETPLATFORM).
 */
export function platformFlagChecks(stage: Stage, expanded: ExpansionResult, globals: Map<string, string>, warnings: DockerfileWarning[]): void {
  const line = stage.from.line;
  if (expanded.matched.size === 1 && expanded.unmatched.size === 0 && expanded.matched.has('TARGETPLATFORM') && expanded.value === globals.get('TARGETPLATFORM')) {
    warnings.push({ rule: 'RedundantTargetPlatform', message: `Setting platform to predefined ${stage.platform} in FROM is redundant as this is the default behavior`, line });
  }
  if (expanded.matched.size > 0 || expanded.unmatched.size > 0) return;
  // containerd's platforms.Parse, enough to name the OS and architecture: one that fails is an error later.
  const parts = expanded.value.split('/');
  if (parts.length > 3 || parts.some((p) => p === '' || !/^[A-Za-z0-9_.-]+$/.test(p))) return;
  const [os, arch] = parts.length === 1 ? (OSES.has(parts[0]!.toLowerCase()) ? [parts[0]!, hostPlatform().architecture] : ['linux', parts[0]!]) : [parts[0]!, parts[1]!];
  const p = normalizePlatform(os, arch);
  const name = stage.name ?? '';
  if (name.includes(p.os) || name.includes(p.architecture)) return;
  warnings.push({ rule: 'FromPlatformFlagConstDisallowed', message: `FROM --platform flag should not use constant value ${JSON.stringify(expanded.value)}`, line });
}

/**
 * InvalidDefaultArgInFrom: each FROM expanded with the global ARGs' defaults alone (no
 * --build-arg) must name an image; `FROM node:${VERSION}` with `ARG VERSION` and no default does
 * not. A layout or archive reference (ocipush's own transports, a layout directory's path) is
 * not checked.
 */
export function defaultArgChecks(
  stages: readonly Stage[], globalArgs: readonly ArgInstruction[], platformArgs: Map<string, string>, escape: EscapeToken, warnings: DockerfileWarning[],
): void {
  const defaults = new Map(platformArgs);
  const expand = (word: string): ExpansionResult | undefined => {
    try {
      return processWord(word, (name) => defaults.get(name), { escape });
    } catch (err) {
      if (err instanceof ExpansionError) return undefined;
      throw err;
    }
  };
  for (const arg of globalArgs) {
    for (const { key, value } of arg.args) {
      if (value === undefined) continue;
      const v = expand(value);
      if (!v) return; // BuildKit abandons the check
      defaults.set(key, v.value);
    }
  }
  for (const stage of stages) {
    const name = expand(stage.baseImage);
    if (!name) return;
    if (/^(?:oci|oci-archive|docker-archive):|^docker:\/\/|^\.{0,2}\//.test(name.value)) continue;
    if (!isImageName(name.value)) warnings.push({ rule: 'InvalidDefaultArgInFrom', message: `Default value for ARG ${stage.baseImage} results in empty or invalid base image name`, line: stage.from.line });
  }
}

function isImageName(text: string): boolean {
  try {
    parseReference(text);
    return true;
  } catch {
    return false;
  }
}
