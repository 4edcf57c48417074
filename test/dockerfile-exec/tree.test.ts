import assert from 'node:assert/strict';
import { it } from 'node:test';
import { childPath, sortedNames } from '../../src/dockerfile-exec/tree.js';

it('sortedNames orders names by their UTF-8 bytes, as Go and the layer walker do', () => {
  const names = ['b', 'a', 'B', 'a.txt', 'a-b', '\u00e9', 'z', '\u{1F600}', '\ue000', '\uff21'];
  const bytes = [...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
  assert.deepEqual(sortedNames(names), bytes);
  // UTF-16 order would put the emoji (a surrogate pair) before U+E000: bytes put it after.
  assert.deepEqual(sortedNames(['\u{1F600}', '\ue000']), ['\ue000', '\u{1F600}']);
  assert.deepEqual(sortedNames(['b', 'a', '_', 'A', '0']), ['0', 'A', '_', 'a', 'b']);
});

it('childPath joins a clean directory and a name', () => {
  assert.equal(childPath('/', 'etc'), '/etc');
  assert.equal(childPath('/etc', 'passwd'), '/etc/passwd');
});
