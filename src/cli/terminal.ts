import { OcipushError } from '../errors.js';

export interface Terminal {
  input: import('node:tty').ReadStream;
  close(): void;
}

/**
 * Where a password is typed: standard input when it is the terminal, else the terminal the
 * command runs on (standard input is the data: `cat app.tar.gz | ocipush sign-blob - --key
 * cosign.key`); none without one (CI).
 */
export async function openTerminal(): Promise<Terminal | undefined> {
  if (process.stdin.isTTY) return { input: process.stdin as import('node:tty').ReadStream, close: () => {} };
  const [{ openSync }, { ReadStream }] = await Promise.all([import('node:fs'), import('node:tty')]);
  let fd: number;
  try {
    fd = openSync('/dev/tty', 'r');
  } catch {
    return undefined;
  }
  const input = new ReadStream(fd);
  return { input, close: () => input.destroy() };
}

/** Reads one line from the terminal without echoing it (a password: the caller zeroes the buffer). */
export function promptHidden(stdin: import('node:tty').ReadStream, question: string): Promise<Buffer> {
  return readLine(stdin, question, true);
}

/** Reads one line from the terminal as it is typed and shown (a user name). */
export async function promptLine(stdin: import('node:tty').ReadStream, question: string): Promise<string> {
  return (await readLine(stdin, question, false)).toString('utf8');
}

function readLine(stdin: import('node:tty').ReadStream, question: string, hidden: boolean): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chars: number[] = [];
    const wasRaw = stdin.isRaw;
    // Echo off before the question shows: an answer typed (or pasted) the moment it appears is never echoed.
    if (hidden) stdin.setRawMode(true);
    process.stderr.write(question);
    stdin.resume();
    const done = (err?: Error): void => {
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      if (hidden) stdin.setRawMode(wasRaw);
      stdin.pause();
      // The terminal showed the Enter of a visible answer itself.
      if (hidden || err) process.stderr.write('\n');
      if (err) { chars.fill(0); reject(err); } else { const b = Buffer.from(chars); chars.fill(0); resolve(b); }
    };
    const prompt = `"${question.trim()}"`;
    // Ctrl-D on an empty line (cooked mode) ends the input: nothing more will be typed.
    const onEnd = (): void => done(new OcipushError('EABORTED', `no answer typed at ${prompt} (end of input)`));
    // A hidden answer is read in raw mode, so the keys the terminal's line editing would have
    // handled are handled here, as in the cooked mode docker's and cosign's prompts read in:
    // none of them may end up inside the password.
    const onData = (data: Buffer): void => {
      for (const byte of data) {
        if (byte === 0x0d || byte === 0x0a) { done(); return; }
        if (byte === 0x03) { done(new OcipushError('EABORTED', `interrupted at ${prompt}`)); return; }
        if (byte === 0x04) {
          if (chars.length === 0) { onEnd(); return; }
          continue;
        }
        if (byte === 0x15) { chars.fill(0); chars.length = 0; continue; }
        if (byte === 0x7f || byte === 0x08) {
          // The whole last character, not its last byte (é is two bytes in UTF-8).
          while (chars.length > 0 && ((chars[chars.length - 1]! & 0xc0) === 0x80)) chars.pop();
          chars.pop();
          continue;
        }
        chars.push(byte);
      }
    };
    stdin.on('data', onData);
    stdin.on('end', onEnd);
  });
}
