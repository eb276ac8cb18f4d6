import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { TrustStore } from '../protocol/certificates.js';
import { ProtocolDevice, readingsAt } from './bench-device.js';
import { endClient } from './mqtt-connect.js';
import { SERVICE_IDENTITY, type BenchPki } from './pki.js';
import { clearServiceSession, startKeyService, type ServiceHandle } from './service-process.js';
import { percentile, summarize, type Summary } from './stats.js';
import { waitForStored } from './throughput.js';

export interface LatencyOptions {
  dir: string;
  pki: BenchPki;
  brokerPort: number;
  runs: number;
  loads: number[];
  durationMs: number;
  batch: number;
  devices: number;
  log: (line: string) => void;
}

export interface LatencyResult {
  offeredMsgPerSec: number;
  achievedMsgPerSec: Summary;
  p50Ms: Summary;
  p99Ms: Summary;
  maxMs: Summary;
  samplesPerRun: number;
}

const TICK_MS = 2;

/**
 * Device send -> row stored, at a fixed offered load (QoS 1, envelopes paced every 2 ms across the
 * devices). Every reading's takenAt is the device's clock just before sealing and publishing; the
 * service stamps receivedAt when it has decrypted and checked the envelope, in the same tick that
 * queues the commit (the commit runs on the next setImmediate). Both are read from the database
 * after the run, one sample per envelope. Same machine, same clock; 1 ms resolution.
 */
export async function runLatency(options: LatencyOptions): Promise<LatencyResult[]> {
  const { pki, brokerPort, log } = options;
  const url = `mqtts://127.0.0.1:${brokerPort}`;
  const serviceDir = join(options.dir, 'latency');
  mkdirSync(serviceDir, { recursive: true });
  let service: ServiceHandle | undefined;
  let devices: ProtocolDevice[] = [];
  try {
    service = await startKeyService({ dir: serviceDir, pki, brokerPort });
    const trust = new TrustStore(pki.caPem);
    devices = await Promise.all(
      pki.ecDevices.slice(0, options.devices).map((d) => ProtocolDevice.connect(url, pki.caPem, d.id, d.credential)),
    );
    await Promise.all(devices.map((d) => d.keyExchange(trust, SERVICE_IDENTITY)));
    const db = new Database(service.dbPath, { readonly: true, fileMustExist: true });
    const query = db.prepare('SELECT received_at - taken_at AS ms FROM readings WHERE idx = 0 AND taken_at BETWEEN ? AND ?');
    const svc = service;

    const run = async (rate: number, durationMs: number) => {
      const before = await svc.metric('smqtt_readings_stored_total');
      const startWall = Date.now();
      const started = performance.now();
      let sent = 0;
      let turn = 0;
      while (performance.now() - started < durationMs) {
        const due = Math.floor(((performance.now() - started) / 1000) * rate);
        for (; sent < due; sent++) {
          const device = devices[turn++ % devices.length];
          if (!device) continue;
          const now = Date.now();
          device.client.publish(device.telemetryTopic, device.seal(readingsAt(now, options.batch), now), { qos: 1 });
        }
        await new Promise((r) => setTimeout(r, TICK_MS));
      }
      const elapsed = (performance.now() - started) / 1000;
      const endWall = Date.now();
      await waitForStored(svc, before + sent * options.batch, 30_000);
      const samples = (query.all(startWall, endWall) as { ms: number }[]).map((r) => r.ms);
      return { achieved: sent / elapsed, samples };
    };

    const results: LatencyResult[] = [];
    for (const load of options.loads) {
      await run(load, Math.min(1_000, options.durationMs)); // warm-up, not counted
      const p50: number[] = [];
      const p99: number[] = [];
      const max: number[] = [];
      const achieved: number[] = [];
      let samplesPerRun = 0;
      for (let i = 0; i < options.runs; i++) {
        const { achieved: a, samples } = await run(load, options.durationMs);
        achieved.push(a);
        p50.push(percentile(samples, 50));
        p99.push(percentile(samples, 99));
        max.push(Math.max(...samples));
        samplesPerRun = samples.length;
        log(`  ${load} msg/s run ${i + 1}/${options.runs}: p50 ${p50.at(-1)} ms, p99 ${p99.at(-1)} ms (${samples.length} envelopes)`);
      }
      results.push({
        offeredMsgPerSec: load,
        achievedMsgPerSec: summarize(achieved),
        p50Ms: summarize(p50),
        p99Ms: summarize(p99),
        maxMs: summarize(max),
        samplesPerRun,
      });
    }
    db.close();
    return results;
  } finally {
    await Promise.all(devices.map((d) => endClient(d.client, true)));
    await service?.stop();
    await clearServiceSession(pki, brokerPort).catch(() => undefined);
  }
}
