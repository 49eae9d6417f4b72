// Clients of bench/scale.ts: timed HTTP requests that never throw (a time-out
// or an error is a result), timed worklist C-FINDs with findscu, and the
// Orthanc process around them (alive?, idle?, restart with a long wait).
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { Orthanc, Exit } from '../test/support/orthanc';

export interface Answer {
  status: number;
  /** Request sent until the whole answer was read. */
  ms: number;
  body: string;
  /** 'timeout' (no answer in time, or 504), else a network error's code; undefined when answered. */
  failure?: string;
}

export function httpRequest(
  agent: http.Agent,
  port: number,
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: string | Buffer; timeoutMs: number },
): Promise<Answer> {
  const t0 = process.hrtime.bigint();
  const elapsed = () => Number(process.hrtime.bigint() - t0) / 1e6;
  return new Promise((resolve) => {
    let settled = false;
    const done = (answer: Answer) => {
      if (!settled) {
        settled = true;
        resolve(answer);
      }
    };
    const headers: Record<string, string | number> = { ...options.headers };
    if (options.body !== undefined) headers['content-length'] = Buffer.byteLength(options.body);
    const request = http.request({ host: '127.0.0.1', port, agent, method, path, headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const status = response.statusCode ?? 0;
        done({ status, ms: elapsed(), body: Buffer.concat(chunks).toString('utf8'), ...(status === 504 ? { failure: 'timeout' } : {}) });
      });
      response.on('error', (error: NodeJS.ErrnoException) => done({ status: 0, ms: elapsed(), body: '', failure: error.code ?? error.message }));
    });
    request.setTimeout(options.timeoutMs, () => {
      done({ status: 0, ms: elapsed(), body: '', failure: 'timeout' });
      request.destroy();
    });
    request.on('error', (error: NodeJS.ErrnoException) => done({ status: 0, ms: elapsed(), body: '', failure: error.code ?? error.message }));
    request.end(options.body);
  });
}

// --- findscu ----------------------------------------------------------------

/** findscu's log with microsecond timestamps (as bench/worklist.ts reads it). */
export const FINDSCU_LOGGER = [
  'log4cplus.rootLogger = INFO, console',
  'log4cplus.appender.console = log4cplus::ConsoleAppender',
  'log4cplus.appender.console.layout = log4cplus::PatternLayout',
  'log4cplus.appender.console.layout.ConversionPattern = %D{%H:%M:%S.%Q} %m%n',
].join('\n');

export interface FindResult {
  /** "Sending Find Request" until "Received Final Find Response", from findscu's log; NaN when it did not complete. */
  ms: number;
  /** The whole findscu run (start-up, association, query, release). */
  wallMs: number;
  answers: number;
  failure?: string;
}

function clock(line: string): { t: number; text: string } | undefined {
  const match = /^(\d\d):(\d\d):(\d\d)\.(\d{3})\.(\d{3}) (.*)$/.exec(line);
  if (!match) return undefined;
  const [, h, m, s, ms, us, text] = match;
  return { t: ((Number(h) * 60 + Number(m)) * 60 + Number(s)) * 1000 + Number(ms) + Number(us) / 1000, text: text! };
}

/** One query in one association. `env` is findscu's whole environment (TCP_NODELAY is DCMTK's switch). */
export function findscu(port: number, keys: string[], logConfig: string, env: NodeJS.ProcessEnv, timeoutMs: number, command = 'findscu'): Promise<FindResult> {
  const args = command === 'findscu'
    ? ['-W', '-aet', 'MODALITY', '-aec', 'ORTHANC', '-ts', '0', '-lc', logConfig, '-sr', ...keys.flatMap((k) => ['-k', k]), '127.0.0.1', String(port)]
    : ['-aet', 'MODALITY', '-aec', 'ORTHANC', '-lc', logConfig, '127.0.0.1', String(port)];
  const t0 = process.hrtime.bigint();
  return new Promise((resolve) => {
    execFile(command, args, { encoding: 'utf8', env, maxBuffer: 64 * 2 ** 20, timeout: timeoutMs, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
      let start: number | undefined;
      let ms = NaN;
      let answers = 0;
      let failure: string | undefined;
      const [request, final] = command === 'findscu'
        ? ['Sending Find Request', 'Received Final Find Response']
        : ['Sending Echo Request', 'Received Echo Response'];
      for (const line of `${stdout}\n${stderr}`.split('\n')) {
        const entry = clock(line);
        if (!entry) continue;
        if (entry.text.startsWith(request)) start = entry.t;
        else if (entry.text.startsWith(final) && start !== undefined) {
          ms = entry.t >= start ? entry.t - start : entry.t + 86400000 - start;
          if (command === 'findscu' && !/\(Success\)/.test(entry.text)) failure = entry.text.slice(0, 120);
        } else if (/^Received Find Response \d+/.test(entry.text)) answers++;
        else if (/error|fail|abort|refused/i.test(entry.text) && failure === undefined) failure = entry.text.slice(0, 120);
      }
      if (error) {
        const killed = (error as { killed?: boolean }).killed || (error as { signal?: string }).signal === 'SIGKILL';
        failure = killed ? 'timeout' : failure ?? error.message.split('\n')[0]!.slice(0, 120);
      }
      if (Number.isNaN(ms) && failure === undefined) failure = 'no final response';
      resolve({ ms, wallMs, answers, ...(failure !== undefined ? { failure } : {}) });
    });
  });
}

// --- the Orthanc process ------------------------------------------------------------

export function alive(orthanc: Orthanc): boolean {
  const pid = orthanc.pid;
  if (pid <= 0 || !existsSync(`/proc/${pid}`)) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** CPU seconds (user + system) the process used so far. */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return 0;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until Orthanc is idle (below 5% of a core for 2 s in a row), e.g.
 * while the plugin follows Orthanc's changes after an upload; the seconds it took.
 */
export async function settle(orthanc: Orthanc, maxSeconds: number, minSeconds = 0): Promise<number> {
  const t0 = Date.now();
  if (minSeconds > 0) await sleep(minSeconds * 1000);
  let quiet = 0;
  let last = cpuSeconds(orthanc.pid);
  while ((Date.now() - t0) / 1000 < maxSeconds) {
    await sleep(1000);
    const now = cpuSeconds(orthanc.pid);
    quiet = now - last < 0.05 ? quiet + 1 : 0;
    last = now;
    if (quiet >= 2) break;
  }
  return (Date.now() - t0) / 1000;
}

/** Starts Orthanc again on its folder and ports (test/support's restart() waits 30 s at most); ms until /system answers. */
export async function relaunch(orthanc: Orthanc, timeoutMs: number): Promise<number> {
  if (alive(orthanc)) {
    try {
      await orthanc.stop('SIGTERM', 60000);
    } catch {
      // SIGKILL sent after the wait: let it go before its ports are taken again
      for (let i = 0; i < 100 && alive(orthanc); i++) await sleep(100);
    }
  }
  const t0 = Date.now();
  let dead: Exit | undefined;
  void orthanc.spawnOnly().then((exit) => (dead = exit));
  await orthanc.waitReady(() => dead, timeoutMs);
  return Date.now() - t0;
}
