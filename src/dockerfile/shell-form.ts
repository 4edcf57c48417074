/** The shell Docker prepends to shell-form RUN, CMD and ENTRYPOINT on Linux when no SHELL is set. */
export const DEFAULT_SHELL: readonly string[] = ['/bin/sh', '-c'];

/** BuildKit's defaultShell: an image for Windows runs shell forms with cmd. */
export function defaultShell(os: string): readonly string[] {
  return os === 'windows' ? ['cmd', '/S', '/C'] : DEFAULT_SHELL;
}

/**
 * What the image config stores for a shell-form CMD or ENTRYPOINT: `ENTRYPOINT echo hi` becomes
 * `["/bin/sh", "-c", "echo hi"]`, or the stage's SHELL followed by the command.
 */
export function shellFormToExec(cmd: string, shell: readonly string[] = DEFAULT_SHELL): string[] {
  return [...(shell.length > 0 ? shell : DEFAULT_SHELL), cmd];
}
