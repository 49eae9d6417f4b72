// A rest-hook receiver on loopback, as a RIS would run one: it records each
// notification POSTed to it (path, headers, parsed body, when), and can be
// taken down (its port closed: connections refused), made to fail (503) or
// to hang (no answer), then brought back on the same port.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

type Json = Record<string, any>;
/** A parsed notification: a FHIR resource (a Bundle). */
type Body = { resourceType: string; [key: string]: any };

export interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  body: Body;
  at: number;
}

export type ReceiverMode = 'ok' | 'fail' | 'hang';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Receiver {
  readonly received: Received[] = [];
  mode: ReceiverMode = 'ok';
  private server?: Server;
  private readonly held = new Set<ServerResponse>();

  /** Requests left unanswered (mode hang). */
  get hanging(): number {
    return this.held.size;
  }

  private constructor(private port: number) {}

  static async start(): Promise<Receiver> {
    const receiver = new Receiver(0);
    await receiver.up();
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Listens again, on the same port as before. */
  async up(): Promise<void> {
    const server = createServer((request, response) => this.handle(request, response));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Closes the port: deliveries are refused until up(). */
  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    for (const response of this.held) response.destroy();
    this.held.clear();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (this.mode === 'hang') {
        this.held.add(response);
        return;
      }
      if (this.mode === 'fail') {
        response.writeHead(503).end();
        return;
      }
      let body: Body;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Body;
      } catch {
        body = { resourceType: 'unparsable' };
      }
      this.received.push({ path: request.url ?? '', headers: request.headers, body, at: Date.now() });
      response.writeHead(200).end();
    });
  }

  /** The notifications sent to `path`. */
  at(path: string): Received[] {
    return this.received.filter((r) => r.path === path);
  }

  /** Waits until `check` holds of what `path` received. */
  async waitFor(path: string, check: (received: Received[]) => boolean, timeoutMs = 30000): Promise<Received[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.at(path);
      if (check(found)) return found;
      if (Date.now() > deadline) throw new Error(`${path}: not received in time; got ${JSON.stringify(found.map((r) => r.body), null, 1).slice(0, 4000)}`);
      await sleep(100);
    }
  }

  async close(): Promise<void> {
    await this.down();
  }
}

/** The SubscriptionStatus of an R5 notification. */
export function statusOf(notification: Json): Json {
  return notification.entry[0].resource;
}

/** The event numbers an R5 notification carries. */
export function eventNumbers(notification: Json): number[] {
  return (statusOf(notification).notificationEvent ?? []).map((e: Json) => Number(e.eventNumber));
}
