import assert from 'node:assert/strict';
import { cpSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, test } from 'node:test';
import * as ocipush from '../src/index.js';
import { REPO_ROOT, tempDir } from './support/tools.js';

/**
 * A program whose node_modules holds two copies of ocipush (its own, and the one a tool it uses
 * depends on, of another version): the errors of either are OcipushErrors to the other, so a
 * script's `isOcipushError(err)` / `err instanceof OcipushError` around a call into the tool sees
 * the code (EAUTH, EUSAGE), not an unknown crash.
 */
let tmp: { path: string; cleanup: () => Promise<void> };
let other: typeof ocipush;

before(async () => {
  tmp = await tempDir('ocipush-errors-');
  // The built package as it ships (dist/src, package.json), a second time, its dependencies the same.
  const copy = join(tmp.path, 'node_modules', 'ocipush');
  mkdirSync(copy, { recursive: true });
  cpSync(join(REPO_ROOT, 'dist', 'src'), join(copy, 'dist', 'src'), { recursive: true });
  writeFileSync(join(copy, 'package.json'), JSON.stringify({ name: 'ocipush', type: 'module' }));
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(copy, 'node_modules'));
  other = await import(pathToFileURL(join(copy, 'dist', 'src', 'index.js')).href) as typeof ocipush;
  assert.notEqual(other.OcipushError, ocipush.OcipushError, 'two copies of the class');
});

after(async () => {
  await tmp?.cleanup();
});

test("an error of another copy of ocipush is an OcipushError to this one (instanceof, isOcipushError), with its code; each copy's own subclasses stay apart", async () => {
  const err = await other.build({ layout: join(tmp.path, 'layout') } as never).then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof ocipush.OcipushError, `instanceof across copies: ${String(err)}`);
  assert.ok(ocipush.isOcipushError(err));
  assert.equal(err.code, 'EUSAGE');
  const mine = new ocipush.OcipushError('EAUTH', 'refused');
  assert.ok(other.isOcipushError(mine) && mine instanceof other.OcipushError);

  // Not every error, and not by its shape: a plain Error with a code is none.
  assert.equal(ocipush.isOcipushError(Object.assign(new Error('x'), { code: 'EUSAGE', name: 'OcipushError' })), false);
  assert.equal(ocipush.isOcipushError(undefined), false);
  // A subclass is still asked of its prototypes: an OcipushError is no ExpansionError.
  assert.ok(new ocipush.ExpansionError('bad') instanceof ocipush.ExpansionError);
  assert.equal(mine instanceof ocipush.ExpansionError, false);
  assert.ok(new ocipush.ExpansionError('bad') instanceof ocipush.OcipushError);
});
