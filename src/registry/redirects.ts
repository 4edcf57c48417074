/** How many redirects one request follows, as Go's http.Client (crane, skopeo, docker) stops after ten. */
export const MAX_REDIRECTS = 10;

/** The next hop of a redirected request: where, with which method, and whether its body goes again. */
export interface RedirectHop {
  url: URL;
  method: string;
  keepsBody: boolean;
}

/**
 * Where an answer sends the request next, as Go's http.Client follows it (net/http's
 * redirectBehavior): 301, 302 and 303 make anything but GET and HEAD a GET without its body; 307
 * and 308 keep the method and the body; any other answer (304, 300, 305 …), or one without a
 * Location, is the answer. The registry transport and the token request follow the same rule;
 * where credentials may go on the next hop is each one's own.
 */
export function redirectHop(status: number, location: string | undefined, from: URL, method: string): RedirectHop | undefined {
  if (location === undefined || location === '') return undefined;
  if (status === 307 || status === 308) return { url: new URL(location, from), method, keepsBody: true };
  if (status !== 301 && status !== 302 && status !== 303) return undefined;
  const toGet = method !== 'GET' && method !== 'HEAD';
  return { url: new URL(location, from), method: toGet ? 'GET' : method, keepsBody: !toGet };
}
