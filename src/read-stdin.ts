/** All of standard input as UTF-8 text (a Dockerfile given as `-f -`, an attestation's `--predicate -`). */
export async function readStdinText(input: NodeJS.ReadableStream = process.stdin): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of input) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
