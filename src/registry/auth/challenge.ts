/**
 * WWW-Authenticate parsing (RFC 7235): several challenges in one header separated by commas,
 * parameters whose quoted values may themselves hold commas (`scope="repository:a:pull,push"`),
 * case-insensitive schemes and parameter names. Schemes and names come back lowercase.
 */
export interface Challenge {
  scheme: string;
  /** Lowercase parameter names; a token68 (`Negotiate abc==`) is stored under ''. */
  params: Record<string, string>;
}

const TOKEN_CHAR = /[!#$%&'*+.^_`|~0-9A-Za-z-]/;

export function parseChallenge(header: string): Challenge[] {
  const out: Challenge[] = [];
  const n = header.length;
  let i = 0;
  let current: Challenge | undefined;
  // Right after a scheme (before any comma) a bare token is a token68, not a new challenge.
  let afterScheme = false;

  const skipSpace = () => { while (i < n && (header[i] === ' ' || header[i] === '\t')) i++; };
  const readToken = () => {
    const start = i;
    while (i < n && TOKEN_CHAR.test(header[i])) i++;
    return header.slice(start, i);
  };
  const readQuoted = () => {
    i++; // opening quote
    let value = '';
    while (i < n && header[i] !== '"') {
      if (header[i] === '\\' && i + 1 < n) i++;
      value += header[i++];
    }
    i++; // closing quote (or end of a malformed header)
    return value;
  };

  while (i < n) {
    skipSpace();
    if (i >= n) break;
    if (header[i] === ',') { i++; afterScheme = false; continue; }
    const token = readToken();
    if (!token) { i++; continue; } // stray character: skip it rather than fail the whole header
    skipSpace();
    if (header[i] === '=' && current) {
      let end = i;
      while (end < n && header[end] === '=') end++;
      let next = end;
      while (next < n && (header[next] === ' ' || header[next] === '\t')) next++;
      if (afterScheme && (next >= n || header[next] === ',')) {
        current.params[''] = token + header.slice(i, end);
        i = next;
        afterScheme = false;
        continue;
      }
      i++;
      skipSpace();
      let value: string;
      if (header[i] === '"') {
        value = readQuoted();
      } else {
        const start = i;
        while (i < n && header[i] !== ',' && header[i] !== ' ' && header[i] !== '\t') i++;
        value = header.slice(start, i);
      }
      current.params[token.toLowerCase()] = value;
      afterScheme = false;
      continue;
    }
    if (afterScheme && current) {
      current.params[''] = token;
      afterScheme = false;
      continue;
    }
    current = { scheme: token.toLowerCase(), params: {} };
    out.push(current);
    afterScheme = true;
  }
  return out;
}
