import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkArgs } from '../../src/cli/argv-check.js';
import { REPO_ROOT } from '../support/tools.js';

/**
 * The command lines README.md and docs/*.md show, in their code blocks: each must pass the check
 * every command line gets before it runs (a known command, its real options, valid choices, every
 * argument it needs). A renamed flag or a dropped argument fails here, not in a newcomer's shell.
 */
const DOCS = ['README.md', 'docs/push.md', 'docs/base-images.md', 'docs/dockerfile.md', 'docs/benchmarks.md'];

/** Each `ocipush …` invocation in a doc's code blocks (fenced, or indented by four spaces), with its line. */
export function shellExamples(text: string): { line: number; words: string[] }[] {
  const found: { line: number; words: string[] }[] = [];
  const lines = text.split('\n');
  let fenced: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const fence = /^\s*```(\w*)/.exec(raw);
    if (fence) {
      fenced = fenced === undefined ? fence[1] ?? '' : undefined;
      continue;
    }
    const inCode = (fenced !== undefined && ['sh', 'bash', ''].includes(fenced)) || (fenced === undefined && /^ {4}\S/.test(raw));
    if (!inCode) continue;
    let command = raw;
    const first = i;
    while (command.endsWith('\\') && i + 1 < lines.length) command = `${command.slice(0, -1)} ${lines[++i]!.trim()}`;
    command = command.replace(/\s+#(?:\s.*)?$/, '');
    // Each ocipush of the line (`a && ocipush b`, `X=1 ocipush c`), up to a pipe, redirection, && or comment.
    for (const m of command.matchAll(/(?:^|&&|;|\$\(|\s)\s*ocipush\s+([^|&;#<>)]*)/g)) {
      const words = [...m[1]!.matchAll(/'[^']*'|"[^"]*"|\S+/g)].map((w) => w[0].replace(/^(['"])(.*)\1$/s, '$2'));
      if (words.length > 0 && !words[0]!.startsWith('ocipush:')) found.push({ line: first + 1, words });
    }
  }
  return found;
}

test('every ocipush command line in README.md and docs/*.md names a command, its real options and the arguments it needs', async () => {
  let checked = 0;
  for (const doc of DOCS) {
    for (const { line, words } of shellExamples(readFileSync(join(REPO_ROOT, doc), 'utf8'))) {
      await assert.doesNotReject(checkArgs(words), `${doc}:${line}: ocipush ${words.join(' ')}`);
      checked++;
    }
  }
  assert.ok(checked >= 50, `the docs show ${checked} command lines`);
});
