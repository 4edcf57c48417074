import { setFlagsFromString } from 'node:v8';

/**
 * V8 flags a program chose for its whole process (the CLI does; a program using ocipush as a
 * library chooses its own). Node resets V8's flags whenever a worker thread starts, so the code
 * that starts workers calls reapplyProcessFlags() once each is online.
 */
const chosen: string[] = [];

export function setProcessFlags(...flags: string[]): void {
  for (const flag of flags) {
    setFlagsFromString(flag);
    if (!chosen.includes(flag)) chosen.push(flag);
  }
}

export function reapplyProcessFlags(): void {
  for (const flag of chosen) setFlagsFromString(flag);
}
