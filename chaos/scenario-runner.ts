import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { SimulatedDevice, type SimulatedDeviceOptions } from '../device-sim/simulated-device.js';
import { SensorModel } from '../device-sim/sensor-model.js';
import { SERVICE_IDENTITY } from '../local/local-pki.js';
import { LocalStack } from '../local/local-stack.js';
import { sampleValue } from '../services/key-service/metrics.js';
import { CuttableLink } from './cuttable-link.js';
import { DeliveryLedger, type DeliveryTally, type StoredRow } from './delivery-ledger.js';

/** How long each phase lasts: the full run (`npm run chaos`) or the shortened one the tests use. */
export interface Timing {
  warmupMs: number;
  faultMs: number;
  recoverMs: number;
  cutOffMs: number;
  floodMessages: number;
}

export const FULL_TIMING: Timing = { warmupMs: 5_000, faultMs: 5_000, recoverMs: 10_000, cutOffMs: 30_000, floodMessages: 50_000 };
export const QUICK_TIMING: Timing = { warmupMs: 1_000, faultMs: 2_000, recoverMs: 2_000, cutOffMs: 3_000, floodMessages: 2_000 };

/** What a scenario gets to work with while the fleet sends at a steady rate. */
export interface ScenarioContext {
  stack: LocalStack;
  devices: SimulatedDevice[];
  links: Map<string, CuttableLink>;
  /** Ciphertext an observer identity saw per device (the last ones): material for replays. */
  captured: Map<string, Buffer[]>;
  timing: Timing;
  /** Facts the scenario wants in its row (e.g. flood counts). */
  notes: Record<string, number | string>;
  /** Devices the scenario stopped on purpose (drained first): not waited for at the end. */
  retired: Set<SimulatedDevice>;
}

export interface Scenario {
  name: string;
  what: string;
  device?: Partial<SimulatedDeviceOptions>;
  run(ctx: ScenarioContext): Promise<void>;
}

export interface ScenarioRow extends DeliveryTally {
  scenario: string;
  /** Redeliveries the service recognised inside the replay window and did not store again. */
  duplicatesRemoved: number;
  /** Messages the service refused (all codes), counted in /metrics. */
  rejected: number;
  servicePeakRssMiB: number;
  notes: Record<string, number | string>;
}

const DEVICES = 4;
const INTERVAL_MS = 50;
const OBSERVER = 'chaos-observer.svc';
const CAPTURE_PER_DEVICE = 64;

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

async function metricsText(apiUrl: string): Promise<string> {
  return (await fetch(`${apiUrl}/metrics`)).text();
}

function sumOf(text: string, name: string): number {
  let total = 0;
  for (const line of text.split('\n')) if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  return total;
}

async function storedRows(apiUrl: string, deviceId: string): Promise<StoredRow[]> {
  const byId = new Map<string, StoredRow>();
  for (let since = 0; ; ) {
    const response = await fetch(`${apiUrl}/api/readings?device=${deviceId}&since=${since}&limit=1000`);
    const { readings } = (await response.json()) as { readings: StoredRow[] };
    for (const r of readings) byId.set(`${r.keyId}/${r.seq}/${r.index}`, r);
    if (readings.length < 1000) return [...byId.values()];
    since = readings[readings.length - 1]!.takenAt;
  }
}

/** VmRSS of a process in MiB, or 0 when it is gone. */
function rssMiB(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * One scenario on a fresh local stack (real Mosquitto, the service as a process): devices in this
 * process record every reading they take, the scenario does its damage, the fleet drains, and what
 * is stored is matched against what was taken, reading by reading.
 */
export async function runScenario(scenario: Scenario, timing: Timing): Promise<ScenarioRow> {
  const dir = mkdtempSync(join(tmpdir(), 'smqtt-chaos-'));
  const stack = await LocalStack.start({ dir, devices: DEVICES, rsaDevices: 1, intervalMs: INTERVAL_MS, runFleet: false, telemetryReaders: [OBSERVER] });
  const apiUrl = stack.endpoints.api.url;
  const caPem = readFileSync(stack.endpoints.caCertPath, 'utf8');
  const ledger = new DeliveryLedger();
  const links = new Map<string, CuttableLink>();
  const captured = new Map<string, Buffer[]>();
  const devices: SimulatedDevice[] = [];
  let observer: MqttClient | undefined;
  let peakRss = 0;
  const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, rssMiB(stack.service.pid))), 200);
  try {
    const observerCredential = await stack.pki.ca.issue({ commonName: OBSERVER, usage: 'client' });
    observer = await mqtt.connectAsync(stack.mqttUrl, { cert: observerCredential.certPem, key: observerCredential.keyPem, ca: caPem, protocolVersion: 5, clientId: 'chaos-observer' });
    observer.on('message', (topic, payload) => {
      const deviceId = topic.split('/')[1]!;
      const list = captured.get(deviceId) ?? [];
      list.push(Buffer.from(payload));
      if (list.length > CAPTURE_PER_DEVICE) list.shift();
      captured.set(deviceId, list);
    });
    await observer.subscribeAsync('devices/+/telemetry', { qos: 0 });

    for (const paths of stack.pki.devices) {
      const link = await CuttableLink.open(stack.endpoints.broker);
      links.set(paths.id, link);
      const model = new SensorModel(paths.id);
      const device = new SimulatedDevice({
        deviceId: paths.id,
        certPem: readFileSync(paths.certPath, 'utf8'),
        keyPem: readFileSync(paths.keyPath, 'utf8'),
        caPem,
        brokerUrl: link.url,
        serviceName: SERVICE_IDENTITY,
        intervalMs: INTERVAL_MS,
        batchSize: 1,
        kexRetryMs: 2_000,
        backoff: { minMs: 100, maxMs: 1_000 },
        readingSource: ledger.recorder(paths.id, (now) => model.at(now)),
        ...scenario.device,
      });
      device.start();
      devices.push(device);
    }
    await waitFor(() => devices.every((d) => d.stats.delivered > 0), 20_000, 'every device to deliver');
    await sleep(timing.warmupMs);
    const before = await metricsText(apiUrl);

    const ctx: ScenarioContext = { stack, devices, links, captured, timing, notes: {}, retired: new Set() };
    await scenario.run(ctx);
    await sleep(timing.recoverMs);

    // Drain: every device connected and its outbox acknowledged, then stop taking readings.
    await waitFor(() => devices.every((d) => d.stats.connected || ctx.retired.has(d)), 60_000, 'devices to reconnect');
    await Promise.all(devices.map((d) => d.stop(30_000)));
    const taken = devices.reduce((n, d) => n + d.stats.taken, 0);
    const storedCount = async () => {
      const summary = (await (await fetch(`${apiUrl}/api/devices`)).json()) as { devices: { readings: number }[] };
      return summary.devices.reduce((n, d) => n + d.readings, 0);
    };
    await waitFor(async () => (await storedCount()) >= taken, 30_000, 'storage to catch up').catch(() => undefined);
    const after = await metricsText(apiUrl);

    const rows = new Map<string, StoredRow[]>();
    for (const id of ledger.devices) rows.set(id, await storedRows(apiUrl, id));
    return {
      scenario: scenario.name,
      ...ledger.tally(rows),
      duplicatesRemoved: (sampleValue(after, 'smqtt_duplicates_total') ?? 0) - (sampleValue(before, 'smqtt_duplicates_total') ?? 0),
      rejected: sumOf(after, 'smqtt_rejections_total') - sumOf(before, 'smqtt_rejections_total'),
      servicePeakRssMiB: Math.round(peakRss),
      notes: ctx.notes,
    };
  } finally {
    clearInterval(rssTimer);
    await Promise.all(devices.map((d) => d.stop(0)));
    observer?.end(true);
    for (const link of links.values()) await link.close();
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
