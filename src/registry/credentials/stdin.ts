import { StringDecoder } from 'node:string_decoder';
import { OcipushError } from '../../errors.js';

const MAX_PASSWORD = 64 * 1024;

/**
 * `--password-stdin`: all of standard input, less one trailing newline and then one carriage
 * return (as `docker login` and `crane auth login` read it: `pass\r\n` and `pass\r` are `pass`).
 */
export async function readPasswordStdin(input: NodeJS.ReadableStream = process.stdin): Promise<string> {
  // A character whose bytes arrive in two reads (a pipe written piecemeal) is decoded whole.
  const decoder = new StringDecoder('utf8');
  let text = '';
  for await (const chunk of input) {
    text += typeof chunk === 'string' ? chunk : decoder.write(chunk as Buffer);
    if (text.length > MAX_PASSWORD) throw new OcipushError('EUSAGE', '--password-stdin: standard input is too long for a password');
  }
  text += decoder.end();
  if (text.endsWith('\n')) text = text.slice(0, -1);
  if (text.endsWith('\r')) text = text.slice(0, -1);
  if (text === '') throw new OcipushError('EUSAGE', '--password-stdin: no password on standard input');
  return text;
}
