import { readFileSync } from 'node:fs';
import { llbUserId } from '../dockerfile/user-id.js';
import type { Owner } from './copy-instruction.js';
import { diskPath } from './raw-names.js';
import { resolvePath, type FsView } from './tree.js';

/**
 * `--chown=user[:group]` and the USER a WORKDIR directory is made for, turned into ids the way
 * BuildKit does (llb.WithUser + the file op's readUser):
 * - each part is an id when llb's parseUID takes it (`+1000` too, not `3000000000`, a 32-bit
 *   signed int), `root` and empty are 0, else a name;
 * - a user id alone gives that id as group too (`--chown=1000` is 1000:1000);
 * - a name is looked up in the destination's /etc/passwd (its gid as group), a group name in
 *   /etc/group; a user name that is not there (or no such file) gives 0:0, a group name that
 *   is not there leaves the user's group, without an error.
 */

export interface UserSpec {
  user: { id: number } | { name: string };
  group?: { id: number } | { name: string };
}

function part(text: string): { id: number } | { name: string } {
  // An empty part (`--chown=1000:`, `--chown=:staff`, a `${GID}` left unset) is id 0: llb's
  // UserOpt marshals an empty name as ByID 0, so docker build writes 1000:0, not the user's group.
  if (text === '') return { id: 0 };
  const id = llbUserId(text);
  return id !== undefined ? { id } : { name: text };
}

export function parseUserSpec(spec: string): UserSpec {
  const colon = spec.indexOf(':');
  if (colon < 0) return { user: part(spec) };
  return { user: part(spec.slice(0, colon)), group: part(spec.slice(colon + 1)) };
}

/** Whether ids alone settle the owner (no file needs to be read). */
export function isNumericSpec(spec: UserSpec): boolean {
  return 'id' in spec.user && (spec.group === undefined || 'id' in spec.group);
}

export interface OwnerLookup {
  owner: Owner;
  /** Names that were not found (BuildKit silently uses 0 for them). */
  missing: string[];
}

export function resolveOwner(spec: UserSpec, fs: FsView): OwnerLookup {
  const missing: string[] = [];
  let uid = 0;
  let gid = 0;
  if ('id' in spec.user) {
    uid = spec.user.id;
    gid = spec.user.id;
  } else {
    const entry = readColonFile(fs, '/etc/passwd').find((f) => f[0] === (spec.user as { name: string }).name);
    if (entry) {
      uid = Number(entry[2]) || 0;
      gid = Number(entry[3]) || 0;
    } else {
      missing.push(`user ${spec.user.name}`);
    }
  }
  if (spec.group) {
    if ('id' in spec.group) {
      gid = spec.group.id;
    } else {
      const entry = readColonFile(fs, '/etc/group').find((f) => f[0] === (spec.group as { name: string }).name);
      if (entry) gid = Number(entry[2]) || 0;
      else missing.push(`group ${spec.group.name}`);
    }
  }
  return { owner: { uid, gid }, missing };
}

/** The lines of /etc/passwd or /etc/group, split at colons; none when the file is not there. */
function readColonFile(fs: FsView, path: string): string[][] {
  const r = resolvePath(fs, path, true);
  if (r.status !== 'found' || r.node.type !== 'file') return [];
  let text: string;
  if (r.node.data) text = r.node.data.toString('utf8');
  else if (r.node.content?.kind === 'inline') text = r.node.content.data.toString('utf8');
  else if (r.node.content?.kind === 'disk') {
    try {
      text = readFileSync(diskPath(r.node.content.path), 'utf8');
    } catch {
      return [];
    }
  } else return [];
  return text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#')).map((l) => l.split(':'));
}
