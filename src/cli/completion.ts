import type { Argv } from 'yargs';
import { basename } from 'node:path';
import { usageError, type CliCommand } from './command.js';
import type { Output } from './output.js';
import type { CommandSpec, OptionSpec } from './argv-check.js';

interface CompletionArgs {
  shell?: string;
}

const SHELLS = ['bash', 'zsh'] as const;

/**
 * `ocipush completion [bash|zsh]`: a completion script made from the commands' own option
 * declarations (the same ones the argument check reads), so it never falls behind. It is static:
 * a Tab press runs no Node process.
 */
export const completionCommand: CliCommand<CompletionArgs> = {
  command: 'completion [shell]',
  describe: 'Print a bash or zsh completion script (default: the shell in $SHELL)',
  builder: (y: Argv) => y
    .positional('shell', { type: 'string', choices: [...SHELLS], describe: 'bash or zsh' })
    .example('source <($0 completion bash)', 'in ~/.bashrc')
    .example('$0 completion zsh > "${fpath[1]}/_ocipush"', 'zsh, once (or source <(ocipush completion zsh) in ~/.zshrc)'),
  run: async (argv, out: Output) => {
    const shell = argv.shell ?? basename(process.env.SHELL ?? '');
    if (shell !== 'bash' && shell !== 'zsh') throw usageError(`completion: name the shell, bash or zsh${shell ? ` (not ${JSON.stringify(shell)})` : ''}`);
    const { loadCommands } = await import('./commands.js');
    const { describeCommand, GLOBAL_OPTIONS } = await import('./argv-check.js');
    const specs = (await loadCommands()).map(describeCommand);
    const script = shell === 'bash' ? bashScript(specs, GLOBAL_OPTIONS) : zshScript(specs, GLOBAL_OPTIONS);
    if (out.json) out.result('', { shell, script });
    else process.stdout.write(script);
  },
};

function flags(o: OptionSpec): string[] {
  return [o.name, ...o.aliases].map((n) => (n.length === 1 ? `-${n}` : `--${n}`));
}

function takesValue(o: OptionSpec): boolean {
  return o.type !== 'boolean' && o.type !== 'count';
}

/** Every long flag, and `--no-X` for the booleans whose help offers it (--no-cache). */
function longFlags(options: OptionSpec[], own: OptionSpec[]): string[] {
  const long = options.flatMap(flags).filter((f) => f.startsWith('--'));
  return [...long, ...own.filter((o) => o.type === 'boolean' && o.describe?.includes(`--no-${o.name}`)).map((o) => `--no-${o.name}`)];
}

export function bashScript(specs: CommandSpec[], globals: OptionSpec[]): string {
  const names = specs.map((s) => s.name);
  const cases = specs.map((spec) => {
    const options = [...globals, ...spec.options];
    const choiceCases = options.filter((o) => o.choices && takesValue(o))
      .map((o) => `        ${flags(o).join('|')}) COMPREPLY=($(compgen -W "${o.choices!.join(' ')}" -- "$cur")); return ;;`);
    const valueFlags = options.filter((o) => takesValue(o) && !o.choices).flatMap(flags);
    const positionalChoices = spec.positionals.find((p) => p.choices)?.choices;
    return [
      `    ${[spec.name, ...spec.aliases].join('|')})`,
      '      case "$prev" in',
      ...choiceCases,
      ...(valueFlags.length ? [`        ${valueFlags.join('|')}) return ;;`] : []),
      '      esac',
      `      opts="${longFlags(options, spec.options).join(' ')}"`,
      ...(positionalChoices ? [`      words_="${positionalChoices.join(' ')}"`] : ['      words_=""']),
      '      ;;',
    ].join('\n');
  });
  return `# ocipush completion for bash. Load it with: source <(ocipush completion bash)
_ocipush() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" cmd="" opts="" words_="" i
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in
      -*) ;;
      *) cmd="\${COMP_WORDS[i]}"; break ;;
    esac
  done
  if [[ -z "$cmd" ]]; then
    COMPREPLY=($(compgen -W "${names.join(' ')} --help --version" -- "$cur"))
    return
  fi
  case "$cmd" in
${cases.join('\n')}
    *) return ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  elif [[ -n "$words_" ]]; then
    # The action is the first argument only: after artifact push come files, not "get push" again.
    for ((i = i + 1; i < COMP_CWORD; i++)); do
      [[ " $words_ " == *" \${COMP_WORDS[i]} "* ]] && return
    done
    COMPREPLY=($(compgen -W "$words_" -- "$cur"))
  fi
}
# Anything else (paths, references) falls back to file names.
complete -o default -F _ocipush ocipush
`;
}

/**
 * A description as an _arguments spec takes it: one short line, its brackets and colons escaped.
 * Asides in parentheses are left out, not cut at: cut, rebase's "Put an image (every platform of
 * an index) onto a new base" said only "Put an image".
 */
function zshDescribe(text: string | undefined): string {
  let plain = text ?? '';
  for (let was = ''; was !== plain;) [was, plain] = [plain, plain.replace(/\s*\([^()]*\)/g, '')];
  const first = plain.split(/(?<=[.;])\s/)[0]!.replace(/[.;]$/, '');
  return first.replace(/\\/g, '\\\\').replace(/([[\]:])/g, '\\$1').replace(/'/g, "'\\''");
}

export function zshScript(specs: CommandSpec[], globals: OptionSpec[]): string {
  const commandList = specs.map((s) => `    '${s.name}:${zshDescribe(s.describe)}'`).join('\n');
  const cases = specs.map((spec) => {
    const options = [...globals, ...spec.options];
    const lines = options.flatMap((o) => {
      const action = !takesValue(o) ? '' : o.choices ? `:value:(${o.choices.join(' ')})` : ':value:_files';
      const repeat = o.array ? '*' : '';
      return flags(o).map((f) => `'${repeat}${f}[${zshDescribe(o.describe)}]${action}'`);
    });
    const positional = spec.positionals.find((p) => p.choices);
    const rest = positional ? `'1:${positional.name}:(${positional.choices!.join(' ')})' '*:file:_files'` : `'*:argument:_files'`;
    return `    ${[spec.name, ...spec.aliases].join('|')})\n      _arguments -s \\\n        ${[...lines, rest].join(' \\\n        ')}\n      ;;`;
  });
  return `#compdef ocipush
# ocipush completion for zsh. Install it with: ocipush completion zsh > "\${fpath[1]}/_ocipush"
# or load it in ~/.zshrc with: source <(ocipush completion zsh)
_ocipush() {
  local -a commands
  commands=(
${commandList}
  )
  if (( CURRENT == 2 )); then
    _describe -t commands 'ocipush command' commands
    return
  fi
  local cmd=$words[2]
  shift words
  (( CURRENT-- ))
  case $cmd in
${cases.join('\n')}
  esac
}
if [[ "\${zsh_eval_context[-1]}" == loadautofunc ]]; then
  _ocipush "$@"
else
  compdef _ocipush ocipush
fi
`;
}
