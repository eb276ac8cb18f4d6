import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { rssKiB, startBroker } from './broker.js';
import { SERVICE_IDENTITY, type BenchPki } from './pki.js';
import { startKeyService } from './service-process.js';
import { summarize, type Summary } from './stats.js';
import { waitForStored } from './throughput.js';
import { WorkerProcess } from './worker-process.js';

export interface FleetOptions {
  dir: string;
  pki: BenchPki;
  runs: number;
  sizes: number[];
  concurrency: number;
  log: (line: string) => void;
}

export interface FleetResult {
  devices: number;
  connectPerSec: Summary;
  brokerKiBPerConnection: Summary;
  simulatorRssKiBPerConnection: Summary;
  simulatorHeapKiBPerConnection: Summary;
  kexCompletePerSec: Summary;
  /** Runs in which every device connected, completed a key exchange and had its reading stored. */
  completeRuns: number;
  worst: { connected: number; keyExchanges: number; stored: number };
  tls: string;
}

/**
 * N devices against one broker and the real service. The broker restarts before each run so its
 * RSS before/after measures this run's connections, not memory its allocator kept from the last.
 */
export async function runFleet(options: FleetOptions): Promise<FleetResult[]> {
  const { pki, log } = options;
  const dir = join(options.dir, 'fleet');
  mkdirSync(dir, { recursive: true });
  const broker = await startBroker(join(dir, 'broker'), pki);
  const service = await startKeyService({ dir, pki, brokerPort: broker.port });
  const results: FleetResult[] = [];
  try {
    for (const size of options.sizes) {
      const connectRate: number[] = [];
      const brokerPer: number[] = [];
      const simRssPer: number[] = [];
      const simHeapPer: number[] = [];
      const kexRate: number[] = [];
      let completeRuns = 0;
      let worst = { connected: size, keyExchanges: size, stored: size };
      let tls = 'unknown';
      for (let run = 0; run < options.runs; run++) {
        await broker.broker.restart();
        await waitReady(service.apiUrl);
        const worker = WorkerProcess.start(new URL('./workers/fleet-worker.ts', import.meta.url).pathname, [
          '--expose-gc',
          '--max-old-space-size=8192',
        ]);
        try {
          worker.send({ type: 'setup', url: broker.url, caPem: pki.caPem, devicesFile: pki.devicesFile, count: size, concurrency: options.concurrency, serviceName: SERVICE_IDENTITY });
          const loaded = await worker.next('loaded', 60_000);
          const brokerBefore = rssKiB(broker.broker.pid);
          worker.send({ type: 'connect' });
          const connected = await worker.next('connected', 600_000);
          const brokerAfter = rssKiB(broker.broker.pid);
          const n = Number(connected.connected);
          tls = String(connected.tls);
          connectRate.push(n / (Number(connected.ms) / 1000));
          brokerPer.push((brokerAfter - brokerBefore) / n);
          simRssPer.push((Number(connected.rssKiB) - Number(loaded.rssKiB)) / n);
          simHeapPer.push((Number(connected.heapUsedKiB) - Number(loaded.heapUsedKiB)) / n);
          const storedBefore = await service.metric('smqtt_readings_stored_total');
          worker.send({ type: 'kex' });
          const kexed = await worker.next('kexed', 600_000);
          kexRate.push(Number(kexed.ok) / (Number(kexed.ms) / 1000));
          worker.send({ type: 'send' });
          await worker.next('sent', 600_000);
          const stored = (await waitForStored(service, storedBefore + size, 120_000)) - storedBefore;
          const keyExchanges = Number(kexed.ok);
          if (n === size && keyExchanges === size && stored === size) completeRuns++;
          if (n + keyExchanges + stored < worst.connected + worst.keyExchanges + worst.stored) worst = { connected: n, keyExchanges, stored };
          log(
            `  ${size} devices run ${run + 1}/${options.runs}: ${Math.round(connectRate.at(-1) ?? 0)} conn/s, broker ${brokerPer.at(-1)?.toFixed(1)} KiB/conn, ` +
              `sim ${simRssPer.at(-1)?.toFixed(1)} KiB/conn, kex ${keyExchanges}/${size} at ${Math.round(kexRate.at(-1) ?? 0)}/s, stored ${stored}/${size}`,
          );
        } finally {
          await worker.stop();
        }
      }
      results.push({
        devices: size,
        connectPerSec: summarize(connectRate),
        brokerKiBPerConnection: summarize(brokerPer),
        simulatorRssKiBPerConnection: summarize(simRssPer),
        simulatorHeapKiBPerConnection: summarize(simHeapPer),
        kexCompletePerSec: summarize(kexRate),
        completeRuns,
        worst,
        tls,
      });
    }
    return results;
  } finally {
    await service.stop();
    await broker.stop();
  }
}

async function waitReady(apiUrl: string): Promise<void> {
  await new Promise((r) => setTimeout(r, 200)); // let the service notice the broker restart first
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (await fetch(`${apiUrl}/readyz`).then((r) => r.ok, () => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('key service did not reconnect after the broker restart');
}
