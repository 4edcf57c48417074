import { OcipushError } from '../../errors.js';

const MAX_PASSWORD = 64 * 1024;

/** `--password-stdin`: all of standard input, less one trailing newline (as `docker login` reads it). */
export async function readPasswordStdin(input: NodeJS.ReadableStream = process.stdin): Promise<string> {
  let text = '';
  for await (const chunk of input) {
    text += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
    if (text.length > MAX_PASSWORD) throw new OcipushError('EUSAGE', '--password-stdin: standard input is too long for a password');
  }
  if (text.endsWith('\r\n')) text = text.slice(0, -2);
  else if (text.endsWith('\n')) text = text.slice(0, -1);
  if (text === '') throw new OcipushError('EUSAGE', '--password-stdin: no password on standard input');
  return text;
}
