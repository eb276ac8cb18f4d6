import { readFileSync } from 'node:fs';

/** Linux reports /proc/PID/stat times in USER_HZ ticks, which is 100 on every Linux ABI node runs on. */
const TICKS_PER_SECOND = 100;

/** CPU time (user + system) a process has used so far, in ms: this process, or another by pid. */
export function cpuMs(pid?: number): number {
  if (pid === undefined || pid === process.pid) {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1000;
  }
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may contain spaces: utime and stime
  // are fields 14 and 15 of the line, so 12th and 13th after the closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
}

export interface CpuSplit {
  /** The bench process: the publishing clients (raw, or devices sealing envelopes). */
  publisher: number;
  broker: number;
  /** The raw subscriber or the key service. */
  receiver: number;
}

/** CPU ms per 1,000 messages each role spent between `start()` and `stop(messages)`. */
export function cpuMeter(pids: { broker: number | undefined; receiver: number | undefined }): { start(): void; stop(messages: number): CpuSplit } {
  const read = (): CpuSplit => ({
    publisher: cpuMs(),
    broker: pids.broker === undefined ? Number.NaN : cpuMs(pids.broker),
    receiver: pids.receiver === undefined ? Number.NaN : cpuMs(pids.receiver),
  });
  let before = read();
  return {
    start: () => {
      before = read();
    },
    stop: (messages) => {
      const after = read();
      const per1k = (a: number, b: number) => ((a - b) * 1000) / messages;
      return {
        publisher: per1k(after.publisher, before.publisher),
        broker: per1k(after.broker, before.broker),
        receiver: per1k(after.receiver, before.receiver),
      };
    },
  };
}
