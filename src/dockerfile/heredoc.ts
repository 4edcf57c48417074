import { ExpansionError, processWord } from './lex.js';

/**
 * Finds the heredoc words (`<<EOF`, `<<-EOF`, `3<<"EOF"`) BuildKit would act on in a RUN, COPY or
 * ADD line (parser.go heredocsFromLine). ocipush does not support heredocs; spotting them lets it
 * say so at the right line instead of misreading the heredoc body as instructions.
 */
const HEREDOC = /^(\d*)<<(-?)([^<]*)$/;
const NO_ENV = (): undefined => undefined;

export function findHeredocs(line: string): string[] {
  if (!line.includes('<<')) return [];
  let words: string[];
  try {
    words = processWord(line, NO_ENV, { escape: '\\', rawQuotes: true, rawEscapes: true, skipUnsetEnv: true }).words;
  } catch (err) {
    if (err instanceof ExpansionError) return [];
    throw err;
  }
  const found: string[] = [];
  for (const word of words) {
    const m = HEREDOC.exec(word);
    if (!m || m[3] === '') continue;
    try {
      const name = processWord(m[3]!, NO_ENV, { escape: '\\', skipUnsetEnv: true }).words;
      if (name.length === 1) found.push(word);
    } catch (err) {
      if (!(err instanceof ExpansionError)) throw err;
      found.push(word);
    }
  }
  return found;
}
