import { fork, type ChildProcess } from 'node:child_process';
import { onCleanup } from './cleanup.js';

export interface WorkerMessage {
  type: string;
  [key: string]: unknown;
}

/** A bench worker script in its own Node process (tsx loader), driven over the IPC channel. */
export class WorkerProcess {
  private readonly inbox: WorkerMessage[] = [];
  private waiter: (() => void) | undefined;
  readonly stop: () => Promise<void>;

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (message: WorkerMessage) => {
      this.inbox.push(message);
      this.waiter?.();
    });
    const exited = new Promise<void>((done) => child.once('exit', () => done()));
    this.stop = onCleanup(`worker pid ${child.pid}`, async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      if (child.connected) child.send({ type: 'stop' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    });
  }

  static start(script: string, nodeArgs: string[] = []): WorkerProcess {
    const child = fork(script, [], { execArgv: [...nodeArgs, '--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    return new WorkerProcess(child);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  send(message: WorkerMessage): void {
    this.child.send(message);
  }

  /** The next message of this type (earlier ones of other types are kept); an 'error' message rejects. */
  async next(type: string, timeoutMs: number): Promise<WorkerMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.inbox.findIndex((m) => m.type === type || m.type === 'error');
      if (index >= 0) {
        const [message] = this.inbox.splice(index, 1);
        if (!message) continue;
        if (message.type === 'error') throw new Error(`worker: ${String(message.message)}`);
        return message;
      }
      if (this.child.exitCode !== null) throw new Error(`worker exited with ${this.child.exitCode} while waiting for ${type}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`worker: no ${type} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 1_000));
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = undefined;
    }
  }
}
