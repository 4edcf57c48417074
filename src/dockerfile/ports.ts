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
    if (parts.length > 1) out.withHostPart.push(raw);

    let [containerPort, proto = ''] = splitOnce(containerPart, '/');
    if (containerPort === '') {
      proto = '';
    } else if (proto === '') {
      proto = 'tcp';
    }
    if (proto !== proto.toLowerCase()) out.upperProto.push(raw);
    proto = proto.toLowerCase();
    if (proto !== 'tcp' && proto !== 'udp' && proto !== 'sctp') throw new Error(`invalid proto: ${proto}`);

    if (ip.startsWith('[')) {
      if (!ip.endsWith(']')) throw new Error(`invalid IP address ${ip}`);
      ip = ip.slice(1, -1);
    }
    if (ip !== '' && isIP(ip) === 0) throw new Error(`invalid IP address: ${ip}`);
    if (containerPort === '') throw new Error(`no port specified: ${raw}<empty>`);

    const range = parsePortRange(containerPort);
    if (!range) throw new Error(`invalid containerPort: ${containerPort}`);
    if (hostPort !== '') {
      const hostRange = parsePortRange(hostPort);
      if (!hostRange) throw new Error(`invalid hostPort: ${hostPort}`);
      if (range[1] - range[0] !== hostRange[1] - hostRange[0] && range[1] !== range[0]) {
        throw new Error(`invalid ranges specified for container and host Ports: ${containerPort} and ${hostPort}`);
      }
    }
    for (let p = range[0]; p <= range[1]; p++) out.ports.push(`${p}/${proto}`);
  }
  return out;
}

function splitOnce(s: string, sep: string): [string, string | undefined] {
  const i = s.indexOf(sep);
  return i < 0 ? [s, undefined] : [s.slice(0, i), s.slice(i + 1)];
}

/** Go's strconv.ParseUint(s, 10, 16): digits only (a leading + is not allowed), at most 65535. */
function parseUint16(s: string): number | undefined {
  if (!/^[0-9]+$/.test(s)) return undefined;
  const n = Number(s);
  return n <= 65535 ? n : undefined;
}

function parsePortRange(ports: string): [number, number] | undefined {
  if (ports === '') return undefined;
  if (!ports.includes('-')) {
    const p = parseUint16(ports);
    return p === undefined ? undefined : [p, p];
  }
  const parts = ports.split('-');
  if (parts.length !== 2) return undefined;
  const start = parseUint16(parts[0]!);
  const end = parseUint16(parts[1]!);
  if (start === undefined || end === undefined || end < start) return undefined;
  return [start, end];
}
