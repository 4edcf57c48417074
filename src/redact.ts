/**
 * Every credential ocipush knows, and the one place that takes them out of text before it is
 * shown. Credentials are registered as they are read (passwords, identity and registry tokens,
 * the Basic form of a user and password) or issued (Bearer tokens); every OcipushError message
 * and every line the CLI prints passes through `redact`, a command's result through `redactHeld`.
 * Patterns catch what was never registered: `user:pass@` in a URL or reference, an Authorization
 * header echoed back, the `"Secret"` of a credential helper's JSON.
 */
export const REDACTED = '<redacted>';

/** Shorter strings are too likely to be ordinary words; they are still caught by the patterns. */
const MIN_SECRET_LENGTH = 4;

const secrets = new Set<string>();
let held: RegExp | undefined;

/** Remembers secrets (undefined and empty ones are ignored) so that `redact` removes them from any text. */
export function registerSecret(...values: (string | undefined)[]): void {
  for (const value of values) {
    if (value === undefined || value.length < MIN_SECRET_LENGTH || secrets.has(value)) continue;
    secrets.add(value);
    // A secret may be echoed URL-encoded (a query string, a form) or JSON-escaped.
    for (const form of [encodeURIComponent(value), JSON.stringify(value).slice(1, -1)]) if (form !== value) secrets.add(form);
    held = undefined;
  }
}

/** The user and password, and their Basic form (`base64(user:password)`), as one credential. */
export function registerBasic(username: string | undefined, password: string | undefined): void {
  registerSecret(password);
  if (password !== undefined && password !== '' && username !== undefined && username !== '') {
    registerSecret(Buffer.from(`${username}:${password}`, 'utf8').toString('base64'));
  }
}

const PATTERNS: [RegExp, string][] = [
  // An Authorization (or Proxy-Authorization) header echoed back: `Authorization: Basic …`, `"authorization":"Bearer …"`.
  [/(authorization["']?\s*[:=]\s*["']?\s*(?:basic|bearer)\s+)[^\s"',;]+/gi, `$1${REDACTED}`],
  // A bare `Basic <base64>` / `Bearer <token>` credential (not a word: `Bearer authentication`).
  [/\b(Basic|Bearer)\s+(?=[A-Za-z]*[0-9+/=._~-])[A-Za-z0-9+/=._~-]{8,}/g, `$1 ${REDACTED}`],
  // `user:password@host` at the start of a word or after `//` (a URL or a reference), never `name:tag@sha256:…`
  // nor the placeholder of a hint (`http://user:password@host:port`), nor an archive's image by
  // position (`docker-archive:app.tar:@1`: a transport, not a user).
  [/(^|[\s"'(<=[]|\/\/)(?!(?:docker-archive|oci-archive|oci):)([^\s/@:"'<>()[\]]+):(?!password@host)([^\s/@"'<>]+)@(?!sha(?:256|384|512):)(?=[A-Za-z0-9.[-])/g, `$1$2:${REDACTED}@`],
  // A credential helper's answer: `"Secret":"…"`, and OAuth2 token fields.
  // (Also when the text was cut short inside the value.)
  [/("(?:Secret|password|token|access_token|refresh_token|identitytoken|registrytoken)"\s*:\s*")(?:[^"\\]|\\.)*/gi, `$1${REDACTED}`],
];

/** `text` with every registered secret and every credential-shaped part replaced by `<redacted>`. */
export function redact(text: string): string {
  if (typeof text !== 'string' || text === '') return text;
  let out = redactHeld(text);
  for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

/**
 * `text` with only the registered secrets, the credentials this process holds, replaced. For a
 * command's result, which is data a user asked for (an image's Env, a label, an annotation): a
 * `postgres://app:pw@db` there is the image's, printed as `config`, skopeo and crane print it,
 * and a pattern would change what the image says.
 */
export function redactHeld(text: string): string {
  if (typeof text !== 'string' || text === '' || secrets.size === 0) return text;
  held ??= heldPattern();
  return text.replace(held, REDACTED);
}

/**
 * The secrets held, longest first, each where it stands as a word: not inside a run of letters and
 * digits. A password `test` is the user's word in `app:latest` or a digest, not a leak of it, and
 * taken out there it made `pushed …:la<redacted>` and a `--json` tag no script could use; where a
 * secret is echoed it stands apart (`user:pw@`, `Basic …`, `"Secret":"…"`, `token=…&`).
 */
function heldPattern(): RegExp {
  const escaped = [...secrets].sort((a, b) => b.length - a.length).map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`(?<![A-Za-z0-9])(?:${escaped.join('|')})(?![A-Za-z0-9])`, 'g');
}
