// Starts the real Orthanc (Debian's package) with the built plugin on free
// loopback ports and a temporary storage folder, for integration tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(__dirname, '../..');
export const PLUGIN = join(ROOT, 'dist/plugin/libOrthancFhir.so');
export const TEST_BUNDLE = join(ROOT, '.build/test/test-plugin.js');
export const DICOMWEB_PLUGIN = '/usr/share/orthanc/plugins/libOrthancDicomWeb.so';
export const WORKLISTS_PLUGIN = '/usr/share/orthanc/plugins/libModalityWorklists.so';
const ORTHANC = '/usr/sbin/Orthanc';

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

export interface OrthancOptions {
  /** The "Fhir" section; undefined leaves it out. */
  fhir?: Record<string, unknown>;
  /** Load the FHIR plugin (default true). */
  withPlugin?: boolean;
  withDicomWeb?: boolean;
  /** More plugins to load after this one (e.g. Debian's ModalityWorklists sample). */
  extraPlugins?: string[];
  /** More top-level configuration. */
  extra?: Record<string, unknown>;
  /** Reuse this storage folder (to restart on the same data). */
  dir?: string;
  /**
   * Orthanc's StorageDirectory (the DICOM files) in this folder instead of
   * dir: several Orthancs sharing one PostgreSQL index must also share the
   * files it points to. The index folder, configuration and log stay in dir,
   * one per instance; dispose() leaves this folder to its owner.
   */
  storageDir?: string;
  /** Fixed ports instead of free ones (the demo). */
  ports?: { http: number; dicom: number };
  /** Orthanc's --verbose, so that info lines (console.log) reach the log; default true. */
  verbose?: boolean;
  /**
   * More environment for the Orthanc process, over the tests' own. TZ is
   * UTC unless given here, so that the plugin's local zone (its default
   * DefaultTimezoneOffset) does not depend on the machine running the tests.
   */
  env?: Record<string, string>;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * ORTHANC_FHIR_TEST_PG=postgresql://... runs every test Orthanc whose
 * configuration names no store on that PostgreSQL server instead of SQLite,
 * each in a schema of its own (derived from its folder, so that a restart
 * finds its data): the whole suite, on the other back end, by hand.
 */
function withTestStore(fhir: Record<string, unknown>, dir: string): Record<string, unknown> {
  const uri = process.env.ORTHANC_FHIR_TEST_PG;
  if (!uri || fhir.Store !== undefined) return fhir;
  const schema = `t_${createHash('sha1').update(dir).digest('hex').slice(0, 16)}`;
  return { ...fhir, Store: 'PostgreSQL', PostgreSQL: { ConnectionUri: uri, Schema: schema } };
}

export class Orthanc {
  private child?: ChildProcess;
  private exited?: Promise<Exit>;
  readonly logFile: string;

  private constructor(
    readonly dir: string,
    readonly httpPort: number,
    readonly dicomPort: number,
    private readonly options: OrthancOptions,
  ) {
    this.logFile = join(dir, 'orthanc.log');
  }

  static async start(options: OrthancOptions = {}): Promise<Orthanc> {
    const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'orthanc-fhir-test-'));
    const orthanc = new Orthanc(
      dir,
      options.ports?.http ?? (await freePort()),
      options.ports?.dicom ?? (await freePort()),
      options,
    );
    await orthanc.launch();
    return orthanc;
  }

  get url(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  get fhirUrl(): string {
    return `${this.url}/fhir`;
  }

  get pid(): number {
    return this.child?.pid ?? -1;
  }

  configuration(): Record<string, unknown> {
    const plugins: string[] = [];
    if (this.options.withPlugin !== false) plugins.push(PLUGIN);
    if (this.options.withDicomWeb) plugins.push(DICOMWEB_PLUGIN);
    plugins.push(...(this.options.extraPlugins ?? []));
    return {
      Name: 'orthanc-fhir-test',
      StorageDirectory: this.options.storageDir ?? join(this.dir, 'db'),
      IndexDirectory: join(this.dir, 'db'),
      HttpPort: this.httpPort,
      DicomPort: this.dicomPort,
      DicomAet: 'ORTHANC',
      RemoteAccessAllowed: false,
      AuthenticationEnabled: false,
      HttpDescribeErrors: true,
      StableAge: 2,
      ...(this.options.fhir !== undefined ? { Fhir: withTestStore(this.options.fhir, this.dir) } : {}),
      ...this.options.extra,
      Plugins: plugins,
    };
  }

  /** Starts the process without waiting; the promise is its exit. */
  spawnOnly(): Promise<Exit> {
    const config = join(this.dir, 'orthanc.json');
    writeFileSync(config, JSON.stringify(this.configuration(), null, 2));
    const args = [`--logfile=${this.logFile}`, ...(this.options.verbose === false ? [] : ['--verbose']), config];
    const child = spawn(ORTHANC, args, {
      cwd: this.dir,
      env: { ...process.env, TZ: 'UTC', ...this.options.env },
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    this.child = child;
    this.exited = new Promise((resolveExit) => {
      child.on('exit', (code, signal) => resolveExit({ code, signal }));
    });
    return this.exited;
  }

  private async launch(): Promise<void> {
    const exited = this.spawnOnly();
    let dead: Exit | undefined;
    void exited.then((exit) => (dead = exit));
    await this.waitReady(() => dead, 30000);
  }

  async waitReady(dead: () => Exit | undefined = () => undefined, timeoutMs = 30000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const exit = dead();
      if (exit) {
        throw new Error(`Orthanc exited (${JSON.stringify(exit)}) during start-up:\n${this.log().slice(-3000)}`);
      }
      try {
        const response = await fetch(`${this.url}/system`);
        // With authorization on, the plugin refuses an anonymous request once it runs.
        if (response.status === 200 || (response.status === 403 && this.authorizing)) return;
      } catch {
        // not listening yet
      }
      await sleep(50);
    }
    throw new Error(`Orthanc did not start in ${timeoutMs} ms:\n${this.log().slice(-3000)}`);
  }

  private get authorizing(): boolean {
    return (this.options.fhir?.Authorization as { Enable?: boolean } | undefined)?.Enable === true;
  }

  log(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  /** Resident memory of the Orthanc process, in bytes. */
  rss(): number {
    const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const match = /VmRSS:\s+(\d+) kB/.exec(status);
    return match ? Number(match[1]) * 1024 : 0;
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 20000): Promise<Exit> {
    if (!this.child || !this.exited) throw new Error('not started');
    this.child.kill(signal);
    const timer = sleep(timeoutMs).then(() => undefined);
    const exit = await Promise.race([this.exited, timer]);
    if (!exit) {
      this.child.kill('SIGKILL');
      throw new Error(`Orthanc did not stop within ${timeoutMs} ms after ${signal}`);
    }
    return exit;
  }

  /** Stops (if running) and starts again on the same storage and ports. */
  async restart(): Promise<void> {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) {
      await this.stop();
    }
    await this.launch();
  }

  async dispose(): Promise<void> {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
    // ORTHANC_FHIR_KEEP=1 keeps the folder (log, storage, core dumps) for a post-mortem.
    if (this.options.dir === undefined && !process.env.ORTHANC_FHIR_KEEP) rmSync(this.dir, { recursive: true, force: true });
  }
}
