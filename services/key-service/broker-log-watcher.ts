import { closeSync, openSync, readSync, statSync, watch, type FSWatcher } from 'node:fs';

/**
 * Counts connections the broker refused before the service could see them (TLS handshake failures),
 * by following Mosquitto's log file. Optional: where the broker's log is not readable by the service
 * (separate containers), these refusals stay in the broker's own log.
 */
export const BROKER_REFUSAL_REASONS = ['no-client-certificate', 'untrusted-certificate', 'tls-version'] as const;
export type BrokerRefusalReason = (typeof BROKER_REFUSAL_REASONS)[number];

const PATTERNS: [RegExp, BrokerRefusalReason][] = [
  [/peer did not return a certificate/, 'no-client-certificate'],
  [/certificate verify failed|certificate expired|unsupported certificate purpose|unknown ca/i, 'untrusted-certificate'],
  [/unsupported protocol|wrong version number|no protocols available|tlsv1 alert protocol version/i, 'tls-version'],
];

export function classifyBrokerLogLine(line: string): BrokerRefusalReason | undefined {
  if (!line.includes('OpenSSL Error') && !line.includes('failed:')) return undefined;
  return PATTERNS.find(([pattern]) => pattern.test(line))?.[1];
}

export class BrokerLogWatcher {
  private offset: number;
  private partial = '';
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;

  /** Starts at the end of the file: refusals before the service started are not its to count. */
  constructor(
    private readonly path: string,
    private readonly onRefusal: (reason: BrokerRefusalReason) => void,
  ) {
    this.offset = statSync(path).size;
  }

  start(): void {
    this.watcher = watch(this.path, () => this.read());
    // fs.watch can miss events on some file systems; a slow poll covers that.
    this.timer = setInterval(() => this.read(), 1_000);
    this.timer.unref();
  }

  read(): void {
    const size = statSync(this.path).size;
    if (size < this.offset) this.offset = 0; // truncated or rotated
    if (size === this.offset) return;
    const buffer = Buffer.alloc(size - this.offset);
    const fd = openSync(this.path, 'r');
    try {
      readSync(fd, buffer, 0, buffer.length, this.offset);
    } finally {
      closeSync(fd);
    }
    this.offset = size;
    const lines = (this.partial + buffer.toString('utf8')).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) {
      const reason = classifyBrokerLogLine(line);
      if (reason) this.onRefusal(reason);
    }
  }

  stop(): void {
    this.watcher?.close();
    clearInterval(this.timer);
  }
}
