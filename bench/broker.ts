import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LocalBroker } from '../local/local-broker.js';
import { freePort } from '../local/ports.js';
import { onCleanup } from './cleanup.js';
import { SERVICE_IDENTITY, type BenchPki } from './pki.js';

export interface BenchBroker {
  broker: LocalBroker;
  port: number;
  url: string;
  stop(): Promise<void>;
}

/**
 * Mosquitto 2 from PATH, configured by the deployment's renderer (broker-config/) through
 * local/local-broker.ts: mutual TLS only, the real ACL, persistence on, default limits.
 */
export async function startBroker(dir: string, pki: BenchPki): Promise<BenchBroker> {
  const port = await freePort();
  const broker = await LocalBroker.start({
    dir,
    port,
    caCertPem: pki.caPem,
    server: pki.local.broker,
    acl: { serviceIdentity: SERVICE_IDENTITY, telemetryReaders: [] },
  });
  const stop = onCleanup(`mosquitto :${port}`, () => broker.stop());
  return { broker, port, url: `mqtts://127.0.0.1:${port}`, stop };
}

/** Resident set size of a process in KiB, from /proc/PID/status (VmRSS). */
export function rssKiB(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  const status = readFileSync(join('/proc', String(pid), 'status'), 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  return match?.[1] ? Number(match[1]) : Number.NaN;
}
