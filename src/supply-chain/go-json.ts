/**
 * JSON as Go's encoding/json writes cosign's structs of maps: compact, an object's keys sorted by
 * their bytes (a map[string]interface{}, at any depth; the simple-signing payload's struct fields
 * are in Go's order, which sorted they keep; written here, not by JSON.stringify, which puts keys
 * such as "9" before "10"), and `<`, `>`, `&`, U+2028, U+2029 escaped as Go escapes them.
 */
export function goJson(value: unknown): string {
  return encode(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** JSON already encoded (a Go struct's fields in their declared order, not sorted), put in as it is. */
export class GoEncoded {
  constructor(readonly json: string) {}
}

function encode(value: unknown): string {
  if (value instanceof GoEncoded) return value.json;
  if (Array.isArray(value)) return `[${value.map(encode).join(',')}]`;
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  const object = value as Record<string, unknown>;
  const keys = Object.keys(object).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return `{${keys.map((k) => `${JSON.stringify(k)}:${encode(object[k])}`).join(',')}}`;
}
