import { pino, type Logger } from 'pino';

/**
 * Structured JSON logs. Callers log ids, codes and counts only; the redaction list is a second line
 * of defence should a payload, key or certificate ever be passed in by mistake.
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      name: 'key-service',
      level,
      redact: {
        paths: ['payload', '*.payload', 'key', '*.key', 'keys', '*.keys', 'keyPem', '*.keyPem', 'readings', '*.readings', 'plaintext', '*.plaintext'],
        censor: '[redacted]',
      },
    },
    destination as pino.DestinationStream | undefined,
  );
}

/** Logs at most one line per key per interval, with how many it held back. */
export class RateLimitedLog {
  private readonly last = new Map<string, { at: number; suppressed: number }>();
  constructor(private readonly intervalMs = 10_000) {}

  /** Returns the suppressed count to report, or undefined if this event should stay quiet. */
  admit(key: string, now = Date.now()): number | undefined {
    const entry = this.last.get(key);
    if (entry && now - entry.at < this.intervalMs) {
      entry.suppressed++;
      return undefined;
    }
    const suppressed = entry?.suppressed ?? 0;
    this.last.set(key, { at: now, suppressed: 0 });
    return suppressed;
  }
}
