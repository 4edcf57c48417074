import { OcipushError } from '../errors.js';
import type { Platform } from '../oci/descriptor.js';
import type { ContainerConfig, HistoryEntry, ImageConfig } from '../oci/manifest.js';
import { configWorkdir, normalizeWorkdir } from '../dockerfile/index.js';

/** What the image config says about how to run the container (the `config` object). */
export interface RunConfig {
  entrypoint?: string[];
  cmd?: string[];
  /** `KEY=VALUE` strings, in order, or a record. */
  env?: string[] | Record<string, string>;
  workdir?: string;
  user?: string;
  labels?: Record<string, string>;
  /** `PORT[/tcp|udp|sctp]`. */
  expose?: string[];
}

/**
 * The time a build is stamped with, in whole seconds since the epoch: `--created`, else
 * `SOURCE_DATE_EPOCH`, else 0 (1970-01-01T00:00:00Z). A fixed default keeps builds reproducible
 * on any machine; `explicit` tells whether a time was given (only then is it an annotation).
 */
export interface BuildTime {
  seconds: number;
  explicit: boolean;
}

export function resolveBuildTime(created: Date | string | number | undefined, sourceDateEpoch: string | undefined): BuildTime {
  if (created !== undefined) return { seconds: parseCreated(created), explicit: true };
  if (sourceDateEpoch !== undefined && sourceDateEpoch !== '') {
    if (!/^\d+$/.test(sourceDateEpoch.trim())) {
      throw new OcipushError('EUSAGE', `SOURCE_DATE_EPOCH="${sourceDateEpoch}": expected a unix time in whole seconds`);
    }
    const seconds = Number(sourceDateEpoch.trim());
    if (seconds * 1000 > MAX_TIME_MS) throw new OcipushError('EUSAGE', `SOURCE_DATE_EPOCH="${sourceDateEpoch}": later than 9999-12-31`);
    return { seconds, explicit: true };
  }
  return { seconds: 0, explicit: false };
}

const MAX_TIME_MS = Date.UTC(9999, 11, 31, 23, 59, 59);

/** `--created`: RFC 3339 (`2024-05-01T12:00:00Z`) or unix seconds; fractions of a second are dropped. */
function parseCreated(value: Date | string | number): number {
  const fail = (): never => {
    throw new OcipushError('EUSAGE', `--created "${String(value)}": expected an RFC 3339 time (2024-05-01T12:00:00Z) or unix seconds`);
  };
  let ms: number;
  if (value instanceof Date) ms = value.getTime();
  else if (typeof value === 'number') ms = value * 1000;
  else if (/^\d+$/.test(value.trim())) ms = Number(value.trim()) * 1000;
  else if (/^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.test(value.trim())) ms = Date.parse(value.trim());
  else return fail();
  if (!Number.isFinite(ms)) return fail();
  // A build time is counted from the epoch, as SOURCE_DATE_EPOCH is: every file's mtime is clamped to it.
  if (ms < 0) throw new OcipushError('EUSAGE', `--created "${String(value)}": before 1970-01-01T00:00:00Z; a build time is a unix time, as SOURCE_DATE_EPOCH`);
  // RFC 3339 writes four-digit years: a time past 9999-12-31 has no representation (nor a Date).
  if (ms > MAX_TIME_MS) throw new OcipushError('EUSAGE', `--created "${String(value)}": later than 9999-12-31T23:59:59Z, which RFC 3339 cannot write`);
  return Math.floor(ms / 1000);
}

/** RFC 3339 in UTC with whole seconds, as the OCI spec and Docker write it. */
export function formatTime(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** `--owner UID:GID` (numeric ids). */
export function parseOwner(value: string | { uid: number; gid: number }): { uid: number; gid: number } {
  if (typeof value !== 'string') return value;
  const m = /^(\d+):(\d+)$/.exec(value.trim());
  if (!m) throw new OcipushError('EUSAGE', `--owner "${value}": expected UID:GID with numeric ids, e.g. 0:0`);
  const uid = Number(m[1]);
  const gid = Number(m[2]);
  if (uid > 0xffffffff || gid > 0xffffffff) throw new OcipushError('EUSAGE', `--owner "${value}": ids must be below 2^32`);
  return { uid, gid };
}

/** `--expose 8080` → `8080/tcp`; `53/udp` stays; a range `8080-8082` is each of its ports, as docker's EXPOSE. */
export function parseExpose(value: string): string[] {
  const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(value.trim());
  const first = m ? Number(m[1]) : NaN;
  const last = m?.[2] !== undefined ? Number(m[2]) : first;
  if (!m || first < 1 || last > 65535 || last < first) {
    throw new OcipushError('EUSAGE', `--expose "${value}": expected PORT[-PORT][/tcp|udp|sctp] with ports from 1 to 65535`);
  }
  const proto = (m[3] ?? 'tcp').toLowerCase();
  return Array.from({ length: last - first + 1 }, (_, i) => `${first + i}/${proto}`);
}

export function envList(env: RunConfig['env']): string[] {
  if (env === undefined) return [];
  const list = Array.isArray(env) ? env : Object.entries(env).map(([k, v]) => `${k}=${v}`);
  for (const item of list) {
    if (item.indexOf('=') <= 0) throw new OcipushError('EUSAGE', `--env "${item}": expected KEY=VALUE`);
  }
  return list;
}

/**
 * `added` over `base` as ENV instructions apply: a variable already set is replaced where it is
 * (the last --env of a name wins, as with docker's ENV and -e), a new one is appended.
 */
export function mergeEnv(base: string[], added: string[]): string[] {
  const out = [...base];
  for (const item of added) {
    const key = item.slice(0, item.indexOf('='));
    const at = out.findIndex((e) => e.slice(0, e.indexOf('=')) === key || e === key);
    if (at >= 0) out[at] = item;
    else out.push(item);
  }
  return out;
}

/** A record with its keys in byte order, so the JSON does not depend on the order flags came in. */
export function sortedRecord(record: Record<string, string> | undefined): Record<string, string> | undefined {
  if (!record || Object.keys(record).length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const key of Object.keys(record).sort()) out[key] = record[key]!;
  return out;
}

/**
 * `--workdir` as docker's WORKDIR takes it (BuildKit's NormalizeWorkdir, the Dockerfile's own): a
 * relative path is resolved against the working directory before it (the base's), else `/`. A
 * runtime refuses a relative cwd (runc: "Cwd must be an absolute path"), so an image that kept one
 * would not start. In a Windows image `C:\app` is `\app`; another drive is refused.
 */
export function resolveWorkdir(current: string | undefined, workdir: string, os = 'linux'): string {
  try {
    return configWorkdir(normalizeWorkdir(current ?? '', workdir, os), os);
  } catch (err) {
    throw new OcipushError('EUSAGE', `--workdir ${workdir}${current ? ` (in ${current}, the base's)` : ''}: ${(err as Error).message}`);
  }
}

export function containerConfig(run: RunConfig, os = 'linux'): ContainerConfig {
  const c: ContainerConfig = {};
  if (run.user) c.User = run.user;
  const ports = [...new Set((run.expose ?? []).flatMap(parseExpose))].sort();
  if (ports.length > 0) c.ExposedPorts = Object.fromEntries(ports.map((p) => [p, {}]));
  const env = mergeEnv([], envList(run.env));
  if (env.length > 0) c.Env = env;
  if (run.entrypoint) c.Entrypoint = run.entrypoint;
  if (run.cmd) c.Cmd = run.cmd;
  if (run.workdir) c.WorkingDir = resolveWorkdir(undefined, run.workdir, os);
  const labels = sortedRecord(run.labels);
  if (labels) c.Labels = labels;
  return c;
}

export interface ImageConfigInput {
  platform: Platform;
  created: string;
  run: RunConfig;
  diffIds: string[];
  history: HistoryEntry[];
}

/** The image config; its key order is fixed, so equal inputs give equal bytes. */
export function imageConfig(input: ImageConfigInput): ImageConfig {
  return {
    created: input.created,
    architecture: input.platform.architecture,
    ...(input.platform.variant ? { variant: input.platform.variant } : {}),
    os: input.platform.os,
    config: containerConfig(input.run, input.platform.os),
    rootfs: { type: 'layers', diff_ids: input.diffIds },
    history: input.history,
  };
}
