import dc from 'node:diagnostics_channel';
import { performance } from 'node:perf_hooks';

/**
 * Where a short command's time goes, request by request: preload it into an ocipush run,
 *
 *   node --import ./dist/scripts/bench/trace-requests.js bin/ocipush.js push REF --layout L -q
 *
 * and at exit it prints, for this point, each request's start and response, and the exit: the
 * wall-clock milliseconds since the process started and the CPU milliseconds used so far (all
 * threads). What comes before the first request is start-up: Node, then loading ocipush.
 */
const lines: string[] = [];
const mark = (what: string) => {
  const cpu = process.cpuUsage();
  lines.push(`${performance.now().toFixed(1).padStart(8)} ms wall ${((cpu.user + cpu.system) / 1000).toFixed(1).padStart(8)} ms cpu  ${what}`);
};
interface UndiciRequest { method: string; origin?: string; path: string }
dc.subscribe('undici:request:create', (m) => { const { request } = m as { request: UndiciRequest }; mark(`→ ${request.method} ${request.path}`); });
dc.subscribe('undici:request:headers', (m) => {
  const { request, response } = m as { request: UndiciRequest; response: { statusCode: number } };
  mark(`← ${response.statusCode} ${request.method} ${request.path}`);
});
mark('preload (Node has started)');
process.on('exit', () => {
  mark('exit');
  process.stderr.write(`${lines.join('\n')}\n`);
});
