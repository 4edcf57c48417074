import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/tools.js';

/**
 * A JSON Schema (2020-12) validator for the subset docs/json/ uses: type, enum, const, pattern,
 * minimum, properties, required, additionalProperties, items and $ref (to a file of docs/json/
 * and a JSON pointer). A keyword outside the subset throws, so a schema can never pass a
 * document by using a keyword this validator silently ignores. Small enough to read; a
 * dependency (ajv) for ~100 lines of checks was not worth its weight.
 */
export const SCHEMA_DIR = join(REPO_ROOT, 'docs', 'json');

type Schema = Record<string, unknown>;

const ANNOTATIONS = new Set(['$schema', '$id', 'title', 'description', '$comment', 'examples', '$defs']);
const KEYWORDS = new Set(['type', 'enum', 'const', 'pattern', 'minimum', 'properties', 'required', 'additionalProperties', 'items', '$ref']);

const files = new Map<string, Schema>();
function loadFile(name: string): Schema {
  let schema = files.get(name);
  if (!schema) {
    schema = JSON.parse(readFileSync(join(SCHEMA_DIR, name), 'utf8')) as Schema;
    files.set(name, schema);
  }
  return schema;
}

/** The errors of `value` against docs/json/`file` (empty: valid). */
export function validate(file: string, value: unknown): string[] {
  const errors: string[] = [];
  check(loadFile(file), file, value, '$', errors);
  return errors;
}

function resolveRef(ref: string, base: string): { schema: Schema; file: string } {
  const hash = ref.indexOf('#');
  const file = hash === 0 ? base : ref.slice(0, hash < 0 ? undefined : hash);
  const pointer = hash < 0 ? '' : ref.slice(hash + 1);
  let node: unknown = loadFile(file);
  for (const part of pointer.split('/').filter(Boolean)) {
    node = (node as Record<string, unknown>)[part.replace(/~1/g, '/').replace(/~0/g, '~')];
    if (node === undefined) throw new Error(`${base}: $ref ${ref} points nowhere`);
  }
  return { schema: node as Schema, file };
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function check(schema: Schema, file: string, value: unknown, at: string, errors: string[]): void {
  for (const key of Object.keys(schema)) {
    if (!ANNOTATIONS.has(key) && !KEYWORDS.has(key)) throw new Error(`${file}: keyword "${key}" at ${at} is outside the subset this validator knows`);
  }
  if (typeof schema.$ref === 'string') {
    const { schema: target, file: targetFile } = resolveRef(schema.$ref, file);
    check(target, targetFile, value, at, errors);
  }
  const type = typeOf(value);
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type as string[] : [schema.type as string];
    if (!types.some((t) => t === type || (t === 'number' && type === 'integer'))) {
      errors.push(`${at}: expected ${types.join(' or ')}, got ${type}`);
      return;
    }
  }
  if (schema.enum !== undefined && !(schema.enum as unknown[]).some((e) => JSON.stringify(e) === JSON.stringify(value))) {
    errors.push(`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  }
  if ('const' in schema && JSON.stringify(schema.const) !== JSON.stringify(value)) errors.push(`${at}: expected ${JSON.stringify(schema.const)}`);
  if (typeof schema.pattern === 'string' && typeof value === 'string' && !new RegExp(schema.pattern, 'u').test(value)) {
    errors.push(`${at}: ${JSON.stringify(value)} does not match ${schema.pattern}`);
  }
  if (typeof schema.minimum === 'number' && typeof value === 'number' && value < schema.minimum) errors.push(`${at}: ${value} < ${schema.minimum}`);
  if (type === 'object') {
    const object = value as Record<string, unknown>;
    const properties = (schema.properties ?? {}) as Record<string, Schema>;
    for (const name of (schema.required ?? []) as string[]) if (!(name in object)) errors.push(`${at}: "${name}" is required`);
    for (const [name, v] of Object.entries(object)) {
      if (properties[name]) check(properties[name]!, file, v, `${at}.${name}`, errors);
      else if (schema.additionalProperties === false) errors.push(`${at}: "${name}" is not allowed`);
      else if (typeof schema.additionalProperties === 'object') check(schema.additionalProperties as Schema, file, v, `${at}.${name}`, errors);
    }
  }
  if (type === 'array' && schema.items !== undefined) {
    (value as unknown[]).forEach((item, i) => check(schema.items as Schema, file, item, `${at}[${i}]`, errors));
  }
}
