import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, createWriteStream, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderAclFile, renderMosquittoConf, type AclInput, type BrokerLimits, type TlsMinimumVersion } from '../broker-config/mosquitto-config.js';
import type { Credential } from './throwaway-pki.js';

/** Mosquitto from PATH on a loopback port, configured by the shared renderer. */
export interface LocalBrokerOptions {
  dir: string;
  port: number;
  caCertPem: string;
  server: Credential;
  acl: AclInput;
  tlsMinimumVersion?: TlsMinimumVersion;
  limits?: Partial<BrokerLimits>;
  crlPem?: string;
}

export class MosquittoNotInstalledError extends Error {
  override readonly name = 'MosquittoNotInstalledError';
  constructor() {
    super(
      'mosquitto was not found on PATH. Install it: `sudo apt-get install mosquitto` (Debian/Ubuntu), ' +
        '`brew install mosquitto` (macOS), then run again.',
    );
  }
}

export function findMosquitto(): string {
  for (const candidate of ['mosquitto', '/usr/sbin/mosquitto', '/usr/local/sbin/mosquitto']) {
    const probe = spawnSync(candidate, ['-h'], { stdio: 'ignore' });
    if (!probe.error) return candidate;
  }
  throw new MosquittoNotInstalledError();
}

/** Run as root, mosquitto drops to user `mosquitto`: hand it the files it must read or write. */
function mosquittoUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = spawnSync('id', ['-u', 'mosquitto'], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', 'mosquitto'], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0) return undefined;
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

export class LocalBroker {
  private constructor(
    private child: ChildProcess,
    readonly port: number,
    readonly logPath: string,
    private readonly launch: () => ChildProcess,
    /** Writes a file beside the configuration, owned by the mosquitto user when run as root. */
    private readonly writeFile: (name: string, content: string, mode: number) => string,
    private readonly paths: { acl: string; crl: string | undefined },
  ) {}

  static async start(options: LocalBrokerOptions): Promise<LocalBroker> {
    const binary = findMosquitto();
    const { dir } = options;
    const dataDir = join(dir, 'data');
    mkdirSync(dataDir, { recursive: true, mode: 0o750 });
    const owner = mosquittoUser();
    const file = (name: string, content: string, mode: number) => {
      const path = join(dir, name);
      writeFileSync(path, content, { mode });
      chmodSync(path, mode);
      if (owner) chownSync(path, owner.uid, owner.gid);
      return path;
    };
    const caFile = file('ca.crt', options.caCertPem, 0o644);
    const certFile = file('broker.crt', options.server.certPem, 0o644);
    const keyFile = file('broker.key', options.server.keyPem, 0o600);
    const aclFile = file('acl', renderAclFile(options.acl), 0o644);
    const crlFile = options.crlPem ? file('crl.pem', options.crlPem, 0o644) : undefined;
    if (owner) {
      chownSync(dir, owner.uid, owner.gid);
      chownSync(dataDir, owner.uid, owner.gid);
    }
    const confPath = file(
      'mosquitto.conf',
      renderMosquittoConf({
        port: options.port,
        bindAddress: '127.0.0.1',
        tlsMinimumVersion: options.tlsMinimumVersion ?? 'tlsv1.2',
        caFile,
        certFile,
        keyFile,
        aclFile,
        ...(crlFile ? { crlFile } : {}),
        persistenceLocation: dataDir,
        ...(options.limits ? { limits: options.limits } : {}),
        // A file Mosquitto flushes per line: the key service follows it to count TLS refusals.
        logFile: join(dir, 'mosquitto.log'),
      }),
      0o644,
    );
    const logPath = join(dir, 'mosquitto.log');
    // Anything printed before the configuration is read (or on a crash) goes here.
    const log = createWriteStream(join(dir, 'mosquitto.stdout.log'), { flags: 'a' });
    const launch = () => {
      const child = spawn(binary, ['-c', confPath], { stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout?.pipe(log, { end: false });
      child.stderr?.pipe(log, { end: false });
      return child;
    };
    const logStart = logSize(logPath);
    const broker = new LocalBroker(launch(), options.port, logPath, launch, file, { acl: aclFile, crl: crlFile });
    await broker.waitForListener(logStart);
    return broker;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /**
   * Ready once this launch logged "running" (after its listeners opened). Not by probing the port: a
   * connection closed before TLS can leave Mosquitto's per-listener client count one too low
   * (eclipse-mosquitto/mosquitto#1460), and then max_connections admits one more.
   */
  private async waitForListener(logStart: number, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) throw new Error(`mosquitto exited with ${this.child.exitCode}; see ${this.logPath} and mosquitto.stdout.log beside it`);
      if (/^\S+ mosquitto version \S+ running$/m.test(logSince(this.logPath, logStart))) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`mosquitto did not listen on ${this.port} within ${timeoutMs} ms; see ${this.logPath}`);
  }

  /** Stops (mosquitto writes its persistence file) and starts again on the same port and files. */
  async restart(): Promise<void> {
    await this.stop();
    const logStart = logSize(this.logPath);
    this.child = this.launch();
    await this.waitForListener(logStart);
  }

  /** Re-reads the CRL and certificates without dropping connections of valid clients. */
  reload(): void {
    this.child.kill('SIGHUP');
  }

  /** Re-renders the ACL (e.g. with devices cut off) and has Mosquitto re-read it: open connections included. */
  replaceAcl(acl: AclInput): void {
    renameSync(this.writeFile('acl.next', renderAclFile(acl), 0o644), this.paths.acl);
    this.reload();
  }

  /** Puts a new CRL in place (whole, never half-written) and has Mosquitto re-read it. */
  replaceCrl(crlPem: string): void {
    if (!this.paths.crl) throw new Error('this broker was started without a CRL (crlPem)');
    renameSync(this.writeFile('crl.pem.next', crlPem, 0o644), this.paths.crl);
    this.reload();
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill(signal);
    await exited;
  }
}

function logSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** What the log gained since `offset` (Mosquitto appends to it across restarts). */
function logSince(path: string, offset: number): string {
  try {
    return readFileSync(path).subarray(offset).toString('utf8');
  } catch {
    return '';
  }
}
