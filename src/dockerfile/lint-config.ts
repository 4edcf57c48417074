import { OcipushError } from '../errors.js';
import type { DockerfileWarning } from './instructions.js';

/**
 * BuildKit's build checks configuration (frontend/dockerfile/linter): the `# check=` parser
 * directive, or the `BUILDKIT_DOCKERFILE_CHECK` build argument, which replaces it whole.
 * `skip=Rule1,Rule2` (or `skip=all`) hides those rules' warnings; `error=true` fails the build
 * when a warning is left; `experimental=` names rules ocipush does not check (accepted, no
 * effect). Options are separated by `;`.
 */

export interface LintConfig {
  skipAll: boolean;
  skip: ReadonlySet<string>;
  error: boolean;
}

/** The build argument that configures the checks (dockerui's `build-arg:BUILDKIT_DOCKERFILE_CHECK`). */
export const LINT_BUILD_ARG = 'BUILDKIT_DOCKERFILE_CHECK';

/** BuildKit's rule names (linter/ruleset.go): only these are skipped or fail the build. */
const RULES = new Set([
  'StageNameCasing', 'FromAsCasing', 'NoEmptyContinuation', 'ConsistentInstructionCasing', 'DuplicateStageName',
  'ReservedStageName', 'JSONArgsRecommended', 'MaintainerDeprecated', 'UndefinedArgInFrom', 'WorkdirRelativePath',
  'UndefinedVar', 'MultipleInstructionsDisallowed', 'LegacyKeyValueFormat', 'InvalidBaseImagePlatform',
  'RedundantTargetPlatform', 'SecretsUsedInArgOrEnv', 'InvalidDefaultArgInFrom', 'FromPlatformFlagConstDisallowed',
  'CopyIgnoredFile', 'InvalidDefinitionDescription', 'ExposeProtoCasing', 'ExposeInvalidFormat',
]);

/** The options of a `# check=` directive: its value up to the first space, as BuildKit reads it. */
export function checkOptions(directive: string): string {
  return directive.split(' ')[0]!;
}

/** Rules BuildKit checks with the file's configuration alone, never an instruction's comment. */
const FILE_WIDE = new Set(['NoEmptyContinuation', 'ConsistentInstructionCasing', 'ReservedStageName', 'DuplicateStageName', 'InvalidDefaultArgInFrom']);

/** linter.ParseLintOptions: throws with BuildKit's message on an option it does not know. */
export function parseLintOptions(text: string): LintConfig {
  const config = { skipAll: false, skip: new Set<string>(), error: false };
  const trimmed = text.trim();
  if (trimmed === '') return config;
  // strings.SplitN(s, ";", 3): a third part keeps any further `;`.
  const parts = trimmed.split(';');
  if (parts.length > 3) parts.splice(2, parts.length, parts.slice(2).join(';'));
  for (const part of parts) {
    const eq = part.indexOf('=');
    if (eq < 0) throw new Error(`invalid check option ${JSON.stringify(part)}`);
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    switch (key) {
      case 'skip':
        if (value === 'all') config.skipAll = true;
        else for (const rule of value.split(',')) config.skip.add(rule.trim());
        break;
      case 'experimental':
        break;
      case 'error': {
        const b = parseGoBool(value);
        if (b === undefined) throw new Error(`failed to parse check option ${JSON.stringify(part)}: strconv.ParseBool: parsing ${JSON.stringify(value)}: invalid syntax`);
        config.error = b;
        break;
      }
      default:
        throw new Error(`invalid check option ${JSON.stringify(key)}`);
    }
  }
  return config;
}

/** Go's strconv.ParseBool. */
function parseGoBool(s: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  return undefined;
}

/**
 * The warnings the configuration leaves, and with `error=true` the message BuildKit fails the
 * build with (`lint violation found for rules: …`, the rules sorted). Warnings that are not
 * BuildKit rules (ocipush's own) are always kept and never fail the build.
 */
export function applyLintConfig(
  warnings: DockerfileWarning[], config: LintConfig, checkAt: (line: number) => string | undefined = () => undefined,
): { warnings: DockerfileWarning[]; error?: string } {
  const skipped = (w: DockerfileWarning): boolean => {
    if (config.skipAll || config.skip.has(w.rule)) return true;
    // A `# check=` comment above the instruction adds to the skips for it (an unreadable one is ignored).
    const local = w.line !== undefined && !FILE_WIDE.has(w.rule) ? checkAt(w.line) : undefined;
    if (local === undefined) return false;
    try {
      const c = parseLintOptions(local);
      return c.skipAll || c.skip.has(w.rule);
    } catch {
      return false;
    }
  };
  const kept = warnings.filter((w) => !RULES.has(w.rule) || !skipped(w));
  if (!config.error) return { warnings: kept };
  const violated = [...new Set(kept.filter((w) => RULES.has(w.rule)).map((w) => w.rule))].sort();
  return violated.length === 0 ? { warnings: kept } : { warnings: kept, error: `lint violation found for rules: ${violated.join(', ')}` };
}

/**
 * A Dockerfile error with the warnings found before it (`details.warnings`, as `shown` gives
 * them): BuildKit sends each warning as it finds it, so docker build shows them, then the error.
 * Warnings a broken configuration cannot sort out are left off: that configuration is the error then.
 */
export function withWarningsFound(err: unknown, shown: () => DockerfileWarning[]): unknown {
  if (!(err instanceof OcipushError) || err.code !== 'EDOCKERFILE' || err.details.warnings !== undefined) return err;
  try {
    const warnings = shown();
    if (warnings.length > 0) err.details.warnings = warnings;
  } catch {
    // (the configuration's own error is reported where it is read)
  }
  return err;
}
