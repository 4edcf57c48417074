import assert from 'node:assert/strict';
import { test } from 'node:test';
import { goDuration, goList, goQuote, goQuoteList } from '../../src/dockerfile/go-format.js';
import { containsWildcards, goMatch } from '../../src/dockerfile/go-match.js';
import { imageOf, orderedContainerConfig, scratchImage } from '../../src/dockerfile/image-config.js';
import { destinationPath } from '../../src/dockerfile-exec/stage-plan.js';

/** The Go formatting and matching rules the Dockerfile builder mirrors, against Go's outputs. */

test('goDuration prints as Go time.Duration.String()', () => {
  const cases: [number, string][] = [
    [0, '0s'], [1, '1ns'], [1_500, '1.5µs'], [500e6, '500ms'], [1e9, '1s'], [1.5e9, '1.5s'],
    [30e9, '30s'], [90e9, '1m30s'], [3600e9, '1h0m0s'], [3723.004e9, '1h2m3.004s'], [-2e9, '-2s'],
  ];
  for (const [ns, text] of cases) assert.equal(goDuration(ns), text, `${ns}ns`);
});

test('goQuote escapes like strconv.Quote; %q and %v of string slices', () => {
  assert.equal(goQuote('plain'), '"plain"');
  assert.equal(goQuote('a"b\\c'), '"a\\"b\\\\c"');
  assert.equal(goQuote('tab\there\nnl'), '"tab\\there\\nnl"');
  assert.equal(goQuote('\x01\x7f'), '"\\x01\\x7f"');
  assert.equal(goQuote('héllo 日本'), '"héllo 日本"');
  assert.equal(goQuote('\u00a0'), '"\\u00a0"');
  assert.equal(goQuoteList(['python3', '-m', 'http.server']), '["python3" "-m" "http.server"]');
  assert.equal(goQuoteList([]), '[]');
  assert.equal(goList(['/data', '/logs']), '[/data /logs]');
});

test('goMatch follows filepath.Match; containsWildcards as fsutil', () => {
  assert.ok(goMatch('*.txt', 'a.txt'));
  assert.ok(!goMatch('*.txt', 'dir/a.txt'));
  assert.ok(goMatch('*/a.txt', 'dir/a.txt'));
  assert.ok(goMatch('file?.c', 'file1.c'));
  assert.ok(!goMatch('file?.c', 'file/.c'));
  assert.ok(goMatch('[a-c]x', 'bx'));
  assert.ok(!goMatch('[^a-c]x', 'bx'));
  assert.ok(goMatch('\\*', '*'));
  // A reversed range is valid for Go and contains nothing (no SyntaxError, no match).
  assert.ok(!goMatch('[z-a]*', 'foo'));
  assert.ok(!goMatch('[z-a]', 'm'));
  assert.ok(goMatch('[z-ab]', 'b'));
  assert.ok(goMatch('[^z-a]', 'm'));
  assert.ok(!goMatch('[', '['), 'a malformed pattern matches nothing');
  assert.ok(containsWildcards('a/*.go'));
  assert.ok(!containsWildcards('a/\\*.go'));
  assert.ok(!containsWildcards('plain/path'));
});

test('destinationPath: relative to WORKDIR, a trailing / or /. kept', () => {
  assert.equal(destinationPath('.', '/app'), '/app/');
  assert.equal(destinationPath('./', '/'), '/');
  assert.equal(destinationPath('', '/srv'), '/srv/');
  assert.equal(destinationPath('x', '/app'), '/app/x');
  assert.equal(destinationPath('x/', '/app'), '/app/x/');
  assert.equal(destinationPath('x/.', '/app'), '/app/x/.');
  assert.equal(destinationPath('/abs/../y', '/app'), '/y');
  assert.equal(destinationPath('../../up', '/a'), '/up');
});

test('scratch and image starting points; the config in Go field order with empty fields left out', () => {
  assert.deepEqual(scratchImage().config, { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], WorkingDir: '/' });
  const padded = imageOf({ architecture: 'amd64', os: 'linux', created: '2024-01-01T00:00:00Z', rootfs: { type: 'layers', diff_ids: ['sha256:a', 'sha256:b'] }, history: [{ created_by: 'one', empty_layer: false }] });
  assert.deepEqual(padded.history, [{ created: '2024-01-01T00:00:00Z' }, { created_by: 'one', empty_layer: false }]);
  assert.deepEqual(Object.keys(orderedContainerConfig({ Shell: ['/bin/sh'], Cmd: ['x'], Labels: { b: '1', a: '2' }, User: 'u', Env: [], OnBuild: [] })), ['User', 'Cmd', 'Labels', 'Shell']);
  assert.deepEqual(Object.keys(orderedContainerConfig({ Labels: { b: '1', a: '2' } }).Labels!), ['a', 'b']);
});
