import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkArgs } from '../../src/cli/argv-check.js';
import { loadCommands } from '../../src/cli/commands.js';
import { runCli } from '../support/tools.js';

/** Every `.example(…)` a command's builder declares, as its --help prints them; their descriptions into `descriptions`. */
function examplesOf(builder: (y: never) => unknown, descriptions: string[] = []): string[] {
  const examples: string[] = [];
  const recorder: unknown = new Proxy({}, {
    get: (_target, prop) => (...args: unknown[]) => {
      if (prop === 'example') {
        examples.push(String(args[0]));
        descriptions.push(String(args[1] ?? ''));
      }
      return recorder;
    },
  });
  builder(recorder as never);
  return examples;
}

/** The words of an example's ocipush command line: from `$0` to the first pipe, redirection or `&&`. */
function wordsOf(example: string): string[] {
  // `source <($0 completion bash)`: the command inside the process substitution.
  const words = [...example.replace(/<\(([^)]*)\)/, '$1').matchAll(/'[^']*'|"[^"]*"|\S+/g)].map((m) => m[0].replace(/^(['"])(.*)\1$/, '$2'));
  const start = words.indexOf('$0');
  assert.ok(start >= 0, `${example}: starts its command with $0`);
  const end = words.findIndex((w, i) => i > start && ['|', '<', '>', '&&', ';'].includes(w));
  return words.slice(start + 1, end < 0 ? undefined : end);
}

test('every command --help shows examples, and each example names the command\'s real options and every argument it needs', async () => {
  const commands = await loadCommands();
  for (const cmd of commands) {
    const name = [cmd.command].flat()[0]!.split(' ')[0]!;
    const descriptions: string[] = [];
    const examples = examplesOf(cmd.builder as (y: never) => unknown, descriptions);
    assert.ok(examples.length > 0, `ocipush ${name} --help shows no example`);
    // yargs puts the program's name for $0 in the command only: in a description it is printed as typed.
    for (const d of descriptions) assert.ok(!d.includes('$0'), `ocipush ${name} --help: ${d}`);
    for (const example of examples) {
      // The same check every command line gets before it runs: an unknown option, a value
      // outside an option's choices or a missing argument is a usage error.
      await assert.doesNotReject(checkArgs(wordsOf(example)), `ocipush ${name} --help: ${example}`);
    }
  }
  // As printed: the section is there (yargs renders it).
  for (const name of ['catalog', 'digest', 'manifest', 'config', 'logout', 'verify-attestation']) {
    const help = runCli([name, '--help']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, new RegExp(`\\nExamples:\\n\\s+ocipush ${name} `), name);
  }
});
