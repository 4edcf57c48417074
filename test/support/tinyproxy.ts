import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killOnExit, removeOnExit } from './exit-cleanup.js';
import { freePort, stopChild } from './registry.js';
import { requireTool } from './tools.js';

/** One request tinyproxy logged: `CONNECT host:port` for a tunnel, `GET http://host/…` in absolute form. */
export interface ProxyLogEntry {
  method: string;
  target: string;
}

export interface RunningProxy {
  /** `http://127.0.0.1:PORT`. */
  url: string;
  port: number;
  /** Requests logged so far, oldest first. */
  requests(): ProxyLogEntry[];
  /** tinyproxy's whole log, for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

export interface ProxyOptions {
  /** Require Basic proxy authentication (407 without it). */
  basicAuth?: { user: string; password: string };
  /** Allow CONNECT only to these ports (403 otherwise); every port when absent. */
  connectPorts?: number[];
  /** Where a port to try is found (default freePort); each attempt asks again. */
  choosePort?: () => Promise<number>;
}

const START_TIMEOUT_MS = 10_000;

/** A real forward proxy (Debian's tinyproxy) on 127.0.0.1, logging every request it is asked for. */
export async function startTinyproxy(options: ProxyOptions = {}): Promise<RunningProxy> {
  requireTool('tinyproxy');
  const dir = await mkdtemp(join(tmpdir(), 'ocipush-proxy-'));
  const forgetDir = removeOnExit(dir);
  const logFile = join(dir, 'tinyproxy.log');
  try {
    for (let attempt = 1; ; attempt++) {
      const port = await (options.choosePort ?? freePort)();
      const config = [
        `Port ${port}`,
        'Listen 127.0.0.1',
        'Timeout 120',
        `LogFile "${logFile}"`,
        'LogLevel Info',
        'MaxClients 100',
        'Allow 127.0.0.1',
        'DisableViaHeader Yes',
        ...(options.basicAuth ? [`BasicAuth ${options.basicAuth.user} ${options.basicAuth.password}`] : []),
        ...(options.connectPorts ?? []).map((p) => `ConnectPort ${p}`),
      ];
      const configFile = join(dir, 'tinyproxy.conf');
      await writeFile(configFile, config.join('\n') + '\n', { mode: 0o600 });
      await writeFile(logFile, '');
      // -d: stay in the foreground, so the child is the proxy and stop() ends it.
      const child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', 'tinyproxy', '-d', '-c', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
      const forgetChild = killOnExit(child);
      let output = '';
      child.stdout!.on('data', (c: Buffer) => { output += c.toString(); });
      child.stderr!.on('data', (c: Buffer) => { output += c.toString(); });
      const log = () => { try { return readFileSync(logFile, 'utf8'); } catch { return ''; } };
      if (await listening(log, child)) {
        return {
          url: `http://127.0.0.1:${port}`,
          port,
          requests: () => parseLog(log()),
          log: () => `${output}${log()}`,
          stop: async () => {
            await stopChild(child);
            forgetChild();
            await rm(dir, { recursive: true, force: true });
            forgetDir();
          },
        };
      }
      await stopChild(child);
      forgetChild();
      if (attempt >= 3) throw new Error(`tinyproxy did not start on port ${port}: ${output}${log()}`);
    }
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    forgetDir();
    throw err;
  }
}

export function parseLog(text: string): ProxyLogEntry[] {
  const entries: ProxyLogEntry[] = [];
  for (const m of text.matchAll(/Request \(file descriptor \d+\): (\S+) (\S+) HTTP\/[\d.]+$/gm)) entries.push({ method: m[1]!, target: m[2]! });
  return entries;
}

/**
 * Whether this tinyproxy listens: its own log says so once it has bound the port. A connection
 * to the port proves nothing: when another test's server won the port, tinyproxy exits ("Could
 * not create listening sockets") while that server takes the connection.
 */
async function listening(log: () => string, child: ChildProcess): Promise<boolean> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) return false;
    if (log().includes('Starting main loop. Accepting connections.')) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}
