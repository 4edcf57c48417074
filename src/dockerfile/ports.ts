import { isIP } from 'node:net';

/**
 * EXPOSE port specs as BuildKit reads them (dockerfile2llb/convert_expose.go):
 * `[ip:][hostPort:]containerPort[-end][/proto]`, proto tcp (default), udp or sctp, ranges
 * expanded. Returns the image config's ExposedPorts keys (`80/tcp`), in order, a port named twice
 * listed twice (as BuildKit's history text lists them; the config's map holds it once).
 */

export interface PortSpecs {
  ports: string[];
  /** Specs that name an IP or host port: Docker ignores those parts (lint ExposeInvalidFormat). */
  withHostPart: string[];
  /** Specs whose protocol was not lowercase (lint ExposeProtoCasing). */
  upperProto: string[];
}

export function parsePortSpecs(specs: readonly string[]): PortSpecs {
  const out: PortSpecs = { ports: [], withHostPart: [], upperProto: [] };
  for (const raw of specs) {
    const parts = raw.split(':');
    let ip = '';
    let hostPort = '';
    let containerPart: string;
    if (parts.length === 1) containerPart = parts[0]!;
    else if (parts.length === 2) [hostPort, containerPart] = [parts[0]!, parts[1]!];
    else {
      ip = parts.slice(0, -2).join(':');
      hostPort = parts[parts.length - 2]!;
      containerPart = parts[parts.length - 1]!;
    }

    const [containerPort, proto = ''] = splitOnce(containerPart, '/');
    if (containerPort === '') throw new Error(`invalid port: ${JSON.stringify(raw)}: no port specified`);
    const lower = proto.toLowerCase();
    if (lower !== '' && lower !== 'tcp' && lower !== 'udp' && lower !== 'sctp') {
      throw new Error(`invalid port: ${JSON.stringify(raw)}: invalid proto: ${proto}`);
    }
    if (proto !== lower) out.upperProto.push(raw);
    // An empty IP or host part (`:80`, `::80`) is no mapping: BuildKit warns only of a named one.
    if (ip !== '' || hostPort !== '') out.withHostPart.push(raw);

    if (ip.startsWith('[')) {
      if (!ip.endsWith(']')) throw new Error(`invalid IP address ${ip}`);
      ip = ip.slice(1, -1);
    }
    if (ip !== '' && isIP(ip) === 0) throw new Error(`invalid IP address: ${ip}`);

    const range = parsePortRange(containerPort);
    if (!range) throw new Error(`invalid containerPort: ${containerPort}`);
    if (hostPort !== '') {
      const hostRange = parsePortRange(hostPort);
      if (!hostRange) throw new Error(`invalid hostPort: ${hostPort}`);
      if (range[1] - range[0] !== hostRange[1] - hostRange[0] && range[1] !== range[0]) {
        throw new Error(`invalid ranges specified for container and host Ports: ${containerPort} and ${hostPort}`);
      }
    }
    for (let p = range[0]; p <= range[1]; p++) out.ports.push(`${p}/${lower || 'tcp'}`);
  }
  return out;
}

function splitOnce(s: string, sep: string): [string, string | undefined] {
  const i = s.indexOf(sep);
  return i < 0 ? [s, undefined] : [s.slice(0, i), s.slice(i + 1)];
}

/**
 * BuildKit's parsePortNumber: Go's strconv.ParseInt(s, 10, 0), so a sign is allowed (`+80` is
 * port 80), then 0 to 65535.
 */
function parsePortNumber(s: string): number | undefined {
  if (!/^[+-]?[0-9]+$/.test(s)) return undefined;
  const n = Number(s);
  return n >= 0 && n <= 65535 ? n : undefined;
}

/** BuildKit's parsePortRange: cut at the first `-`; `80-80` is one port. */
function parsePortRange(ports: string): [number, number] | undefined {
  if (ports === '') return undefined;
  const dash = ports.indexOf('-');
  const start = parsePortNumber(dash < 0 ? ports : ports.slice(0, dash));
  if (start === undefined) return undefined;
  const endText = dash < 0 ? undefined : ports.slice(dash + 1);
  if (endText === undefined || endText === ports.slice(0, dash)) return [start, start];
  const end = parsePortNumber(endText);
  if (end === undefined || end < start) return undefined;
  return [start, end];
}
