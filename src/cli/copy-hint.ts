import { namedTransport } from '../transports/parse.js';
import { usageError } from './command.js';

/**
 * pull reads a registry into a layout and push a layout into a registry; a layout or an archive
 * where a registry goes (or an archive where the layout goes) is copy's work, as skopeo copy
 * takes any two. The line names what was given and the copy that does it, instead of the
 * network error of a name read as a Docker Hub image or a hint about layout names.
 */
export function refuseForCopy(verb: 'pull' | 'push', text: string, wanted: 'registry' | 'layout', copy: { from: string; to: string }): void {
  const named = namedTransport(text);
  if (!named || (wanted === 'layout' && named.transport === 'oci')) return;
  const does = verb === 'pull' ? 'pull copies from a registry into a layout' : 'push copies from a layout into a registry';
  throw usageError(`${text} is ${named.what}, not a ${wanted}: ${does}; copy takes any two: ocipush copy ${copy.from} ${copy.to}`);
}
