// A throw-away PostgreSQL server (Debian's postgresql-15) for the PostgreSQL
// store tests: its own cluster in a temporary folder, on a free loopback port
// and with its socket in that folder, so that it never meets Debian's default
// cluster (main, port 5432) that installing postgresql may have started.
// Several Orthancs share its database through Orthanc's PostgreSQL index
// plugin (orthancIndexConfig()).
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './orthanc';

const run = promisify(execFile);

const BIN = '/usr/lib/postgresql/15/bin';
/** Debian's orthanc-postgresql (4.0): replaces Orthanc's SQLite index by PostgreSQL. */
export const POSTGRESQL_INDEX_PLUGIN = '/usr/share/orthanc/plugins/libOrthancPostgreSQLIndex.so';

// initdb and the server refuse to run as root; the tests do run as root.
const AS_ROOT = process.getuid?.() === 0;

export class PostgresCluster {
  readonly host = '127.0.0.1';
  readonly database = 'orthanc';
  readonly username = 'postgres';
  /** Empty: the cluster trusts every local connection. */
  readonly password = '';
  readonly dataDir: string;
  readonly logFile: string;

  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {
    this.dataDir = join(dir, 'data');
    this.logFile = join(dir, 'pg.log');
  }

  static async start(): Promise<PostgresCluster> {
    const dir = await mkdtemp(join(tmpdir(), 'orthanc-fhir-pg-'));
    const cluster = new PostgresCluster(dir, await freePort());
    try {
      // mkdtemp makes the folder root's (mode 0700): the server, run as
      // postgres, writes its data, log and socket there.
      if (AS_ROOT) await cluster.exec('chown', ['postgres:postgres', dir]);
      await cluster.asPostgres(`${BIN}/initdb`, [
        '-D', cluster.dataDir, '-U', cluster.username, '--auth=trust', '-E', 'UTF8', '--locale=C',
      ]);
      await cluster.startAgain();
      await cluster.asPostgres(`${BIN}/createdb`, [
        '-h', cluster.host, '-p', String(cluster.port), '-U', cluster.username, cluster.database,
      ]);
    } catch (error) {
      await cluster.dispose();
      throw error;
    }
    return cluster;
  }

  get connectionUri(): string {
    return `postgresql://${this.username}@${this.host}:${this.port}/${this.database}`;
  }

  /**
   * The top-level "PostgreSQL" section for the index plugin, such that
   * several Orthancs use this one database (the option names are those of
   * plugin 4.0, see /etc/orthanc/postgresql.json); overrides win.
   */
  orthancIndexConfig(overrides: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      EnableIndex: true,
      // The DICOM files stay in Orthanc's StorageDirectory (shared as a folder).
      EnableStorage: false,
      Host: this.host,
      Port: this.port,
      Database: this.database,
      Username: this.username,
      Password: this.password,
      EnableSsl: false,
      // The advisory lock (default true) lets one Orthanc only on a database.
      Lock: false,
      // Attempts to connect at start-up, and retries of transactions that
      // conflict with another Orthanc's (serialization failures).
      MaximumConnectionRetries: 10,
      // Seconds between two attempts to connect (default 5): short, so that a
      // start-up during an outage test does not wait long once the server is back.
      ConnectionRetryInterval: 1,
      IndexConnectionsCount: 1,
      ...overrides,
    };
  }

  /** Stops the server; 'immediate' is a crash (no checkpoint, recovery on the next start). */
  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    await this.asPostgres(`${BIN}/pg_ctl`, ['-D', this.dataDir, '-m', mode, '-w', 'stop']);
  }

  /** Starts the server (again) on the same data folder and port, waiting until it accepts connections. */
  async startAgain(): Promise<void> {
    const options = [
      `-p ${this.port}`,
      // The socket in our folder, not /var/run/postgresql (main's).
      `-k ${this.dir}`,
      '-c listen_addresses=127.0.0.1',
      // Explicit: the durability tests rely on what the server acknowledged.
      '-c fsync=on',
    ].join(' ');
    await this.asPostgres(`${BIN}/pg_ctl`, ['-D', this.dataDir, '-l', this.logFile, '-o', options, '-w', '-t', '60', 'start']);
  }

  /** Runs one SQL statement in the orthanc database; stdout, unaligned and without headers (-At). */
  async psql(sql: string): Promise<string> {
    // Trust authentication over TCP: any OS user may connect as postgres. -X
    // skips ~/.psqlrc; ON_ERROR_STOP makes an SQL error a non-zero exit.
    const { stdout } = await this.exec(`${BIN}/psql`, [
      '-X', '-At', '-v', 'ON_ERROR_STOP=1',
      '-h', this.host, '-p', String(this.port), '-U', this.username, '-d', this.database,
      '-c', sql,
    ]);
    return stdout;
  }

  async log(): Promise<string> {
    try {
      return await readFile(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  async dispose(): Promise<void> {
    try {
      await this.asPostgres(`${BIN}/pg_ctl`, ['-D', this.dataDir, '-m', 'immediate', '-w', 'stop']);
    } catch {
      // not running (stopped by the test, or never started)
    }
    // ORTHANC_FHIR_KEEP=1 keeps the folder (data, pg.log) for a post-mortem.
    if (!process.env.ORTHANC_FHIR_KEEP) await rm(this.dir, { recursive: true, force: true });
  }

  private asPostgres(command: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
    return AS_ROOT ? this.exec('runuser', ['-u', 'postgres', '--', command, ...args]) : this.exec(command, args);
  }

  private async exec(command: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
    try {
      // cwd: our folder, which postgres may enter (the tests' own cwd it may not).
      return await run(command, args, { cwd: this.dir, env: cleanEnv(), maxBuffer: 64 * 1024 * 1024 });
    } catch (error) {
      // execFile's message is the command line and its stderr.
      const e = error as Error & { stdout?: string };
      const tail = (await this.log()).split('\n').slice(-30).join('\n');
      throw new Error(`${e.message}${e.stdout ? `\n${e.stdout}` : ''}\n--- ${this.logFile} (tail) ---\n${tail}`);
    }
  }
}

// libpq's PG* variables (PGHOST, PGPORT, PGDATABASE...) of the caller's
// environment must not redirect the commands to another server.
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('PG')) env[key] = value;
  return env;
}
