import { toArray, usageError } from './command.js';

/**
 * `sign -a` / `verify -a` (`--annotations`) read as cosign reads them: its flag is a pflag string
 * slice, so each value is one CSV record and `-a env=prod,team=core` is two claims; a comma within
 * a value is written quoted (`-a '"note=a,b"'`). Read otherwise, a payload signed here would claim
 * `env: "prod,team=core"`, which `cosign verify -a team=core` rejects, and the other way round.
 */
export function cosignAnnotations(values: unknown): Record<string, string> {
  const claims: Record<string, string> = {};
  for (const value of toArray(values)) {
    for (const field of csvRecord(value)) {
      const eq = field.indexOf('=');
      if (eq <= 0) throw usageError(`-a ${value}: ${JSON.stringify(field)} is not KEY=VALUE (cosign reads -a as comma-separated values)`);
      claims[field.slice(0, eq)] = field.slice(eq + 1);
    }
  }
  return claims;
}

/** One record as Go's encoding/csv reads it (pflag's readAsCSV, every string-slice flag of cosign's): an empty value is no field at all. */
export function csvRecord(value: string): string[] {
  if (value === '') return [];
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (value[i] === '"') {
      i++;
      for (;;) {
        const close = value.indexOf('"', i);
        if (close < 0) throw usageError(`-a ${value}: a quoted value without its closing " (cosign reads -a as comma-separated values)`);
        field += value.slice(i, close);
        i = close + 1;
        if (value[i] !== '"') break;
        field += '"';
        i++;
      }
      if (i < value.length && value[i] !== ',') throw usageError(`-a ${value}: text after a closing " (cosign reads -a as comma-separated values; "" is a quote within quotes)`);
    } else {
      const comma = value.indexOf(',', i);
      field = value.slice(i, comma < 0 ? value.length : comma);
      if (field.includes('"')) throw usageError(`-a ${value}: a " within a value that does not start with one (cosign reads -a as comma-separated values: quote the whole KEY=VALUE, "" for a quote)`);
      i += field.length;
    }
    fields.push(field);
    if (i >= value.length) return fields;
    i++;
  }
}
