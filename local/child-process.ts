import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** A TypeScript entry point run by Node with the tsx loader; output goes to a log file. */
export class ManagedProcess {
  private constructor(
    private readonly child: ChildProcess,
    readonly logPath: string,
  ) {}

  static start(entry: string, env: NodeJS.ProcessEnv, logPath: string): ManagedProcess {
    const log = createWriteStream(logPath, { flags: 'a' });
    const child = spawn(process.execPath, ['--import', 'tsx', resolve(REPO_ROOT, entry)], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    return new ManagedProcess(child, logPath);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  get exitCode(): number | null {
    return this.child.exitCode;
  }

  /** Sends a signal that does not stop the process (SIGHUP: reload). */
  signal(signal: NodeJS.Signals): void {
    if (!this.exited) this.child.kill(signal);
  }

  /** Sends the signal and waits for the exit; SIGKILL follows if it takes longer than graceMs. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<number | null> {
    if (this.exited) return this.child.exitCode;
    const exited = new Promise<number | null>((resolve) => this.child.once('exit', (code) => resolve(code)));
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    const code = await exited;
    clearTimeout(timer);
    return code;
  }
}
