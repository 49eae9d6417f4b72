// A small closed-loop HTTP load generator on keep-alive connections, shared by
// the benchmark scripts: N clients each send the next request when the last
// one is answered, for a fixed time.
import http from 'node:http';

export interface LoadResult {
  requests: number;
  errors: number;
  seconds: number;
  perSecond: number;
  p50: number;
  p99: number;
}

export interface RequestSpec {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

/** Called with each answer's status and headers (e.g. to collect the Location of creates). */
export type ResponseObserver = (status: number, headers: http.IncomingHttpHeaders) => void;

function once(agent: http.Agent, port: number, spec: RequestSpec, observe?: ResponseObserver): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host: '127.0.0.1', port, agent, method: spec.method ?? 'GET', path: spec.path, headers: spec.headers },
      (response) => {
        response.resume();
        response.on('end', () => {
          observe?.(response.statusCode ?? 0, response.headers);
          resolve(response.statusCode ?? 0);
        });
      },
    );
    request.on('error', reject);
    request.end(spec.body);
  });
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export async function load(
  port: number,
  next: () => RequestSpec,
  options: { clients: number; seconds: number; expectStatus?: number; onResponse?: ResponseObserver },
): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.clients });
  const latencies: number[] = [];
  let errors = 0;
  const started = process.hrtime.bigint();
  const deadline = Date.now() + options.seconds * 1000;
  await Promise.all(
    Array.from({ length: options.clients }, async () => {
      while (Date.now() < deadline) {
        const t0 = process.hrtime.bigint();
        try {
          const status = await once(agent, port, next(), options.onResponse);
          if (status !== (options.expectStatus ?? 200)) errors++;
        } catch {
          errors++;
        }
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    errors,
    seconds,
    perSecond: latencies.length / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}

export function describe(label: string, result: LoadResult): string {
  return `${label.padEnd(28)} ${result.perSecond.toFixed(0).padStart(7)} req/s   p50 ${result.p50.toFixed(2)} ms   p99 ${result.p99.toFixed(2)} ms   errors ${result.errors}`;
}
