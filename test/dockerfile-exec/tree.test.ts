import assert from 'node:assert/strict';
import { it } from 'node:test';
import { TreeWriter } from '../../src/dockerfile-exec/copy-instruction.js';
import { plannedEntries } from '../../src/dockerfile-exec/layer-writer.js';
import { childPath, cleanAbsolute, dirNode, FsTree, parentAndName, sortedNames, splitPath, type FsNode } from '../../src/dockerfile-exec/tree.js';

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

it('splitPath and cleanAbsolute clean a path as Go\'s path.Clean does inside a root, clean paths taken as they are', () => {
  for (const [path, parts] of [
    ['/', []], ['/a/b', ['a', 'b']], ['/a//b/./c/..', ['a', 'b']], ['/../a', ['a']], ['a/b/', ['a', 'b']],
    ['/a/.b/..c/...', ['a', '.b', '..c', '...']], ['/a/.', ['a']], ['/a/..', []], ['//', []], ['', []],
  ] as const) {
    assert.deepEqual(splitPath(path), parts, path);
    assert.equal(cleanAbsolute(path), `/${parts.join('/')}`, path);
  }
});

it('parentAndName splits off the last name of a path, cleaned', () => {
  for (const [path, parent, name] of [
    ['/a', '/', 'a'], ['/a/b', '/a', 'b'], ['/a/b/', '/a', 'b'], ['/a//b/./c/..', '/a', 'b'], ['/x/../etc/passwd', '/etc', 'passwd'],
  ] as const) assert.deepEqual(parentAndName(path), [parent, name], path);
});

it('plannedEntries lists what a step touched depth first, names by their UTF-8 bytes, a parent right before its children', () => {
  const tree = new FsTree('test');
  const writer = new TreeWriter(tree, 0);
  const file = (): FsNode => ({ type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, size: 0 });
  for (const dir of ['/a', '/a/d', '/untouched']) tree.set(dir, dirNode());
  for (const path of ['/a-b', '/a/b', '/a.txt', '/b', '/a/\ue000', '/a/\u{1F600}', '/a/d/c', '/\u00e9', '/untouched/x']) tree.set(path, file());
  for (const path of ['/b', '/a/\u{1F600}', '/a.txt', '/a/d/c', '/a-b', '/a/\ue000', '/\u00e9', '/a/b']) writer.touched.add(path);
  // Byte order puts the emoji (a surrogate pair in UTF-16) after U+E000, and /a/… before /a-b.
  assert.deepEqual(plannedEntries(writer).map((e) => e.path),
    ['/a', '/a/b', '/a/d', '/a/d/c', '/a/\ue000', '/a/\u{1F600}', '/a-b', '/a.txt', '/b', '/\u00e9']);
});

it('FsTree.lstat finds a node by a clean or an unclean path and answers with the clean one', () => {
  const tree = new FsTree('test');
  tree.set('/etc', dirNode());
  tree.set('/etc/passwd', { type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, size: 0 });
  for (const path of ['/etc/passwd', '//etc/./passwd', '/x/../etc/passwd']) {
    const found = tree.lstat(path);
    assert.equal(found.status, 'found', path);
    assert.equal(found.path, '/etc/passwd');
  }
  assert.deepEqual(tree.lstat('/etc/passwd/x'), { status: 'missing', path: '/etc/passwd/x' });
  assert.deepEqual(tree.lstat('/nope//y'), { status: 'missing', path: '/nope/y' });
  assert.equal(tree.lstat('/').status, 'found');
  assert.equal(new FsTree('lazy', true).lstat('/usr/lib').status, 'unknown');
});
