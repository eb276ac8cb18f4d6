import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { TrustStore } from '../protocol/certificates.js';
import { sealEnvelope } from '../protocol/envelope.js';
import { encodeReadings } from '../protocol/readings.js';
import { deviceTopic } from '../protocol/topics.js';
import { SERVICE_IDENTITY, type BenchPki } from './pki.js';
import { ProtocolDevice, envelopeBytes, readingsAt } from './bench-device.js';
import { clientOptions, connectClient, endClient, tlsVersionOf } from './mqtt-connect.js';
import { cpuMeter, type CpuSplit } from './process-cpu.js';
import { publishAll, type Lane } from './publisher.js';
import { clearServiceSession, startKeyService, type ServiceHandle } from './service-process.js';
import { median, summarize, type Summary } from './stats.js';
import { WorkerProcess } from './worker-process.js';

export const BASELINE_PAYLOAD_BYTES = 128;
/** 10 readings make a 133-byte envelope (16 + 1 + 10x10 + 16), the closest to 128 bytes; 9 make 123. */
export const DEFAULT_BATCH = 10;
const STORED = 'smqtt_readings_stored_total';

export interface ThroughputOptions {
  dir: string;
  pki: BenchPki;
  brokerPort: number;
  /** For CPU accounting (/proc/PID/stat). */
  brokerPid: number | undefined;
  runs: number;
  /** Messages per trial, by QoS. */
  messages: { 0: number; 1: number };
  batches: number[];
  /** Publishing connections, the same number for the baseline and the devices. */
  lanes: number;
  cpuProfileDir?: string;
  log: (line: string) => void;
}

export interface PipelineFigures {
  batch: number;
  envelopeBytes: number;
  msgPerSec: Summary;
  readingsPerSec: Summary;
  /** Per run: pipeline msg/s over the baseline msg/s of the same run. */
  ratio: Summary;
  incompleteRuns: number;
  cpu: CpuFigures;
}

/**
 * Envelopes sealed at send time exactly as the devices seal them, through the baseline's raw path (no
 * service opens them). Its ratio is the ceiling for any service on this machine: the devices' sealing
 * and the broker are already paid, and the receiving end does no more than the raw subscriber.
 */
export interface SealedCeiling {
  batch: number;
  msgPerSec: Summary;
  ratio: Summary;
  cpu: CpuFigures;
}

/** CPU ms per 1,000 messages by role (medians over the runs), and their sum. */
export interface CpuFigures {
  publisher: number;
  broker: number;
  receiver: number;
  total: Summary;
}

export interface ThroughputResult {
  qos: 0 | 1;
  messagesPerTrial: number;
  baselineMsgPerSec: Summary;
  baselineIncompleteRuns: number;
  baselineCpu: CpuFigures;
  sealedCeiling: SealedCeiling;
  pipelines: PipelineFigures[];
  tlsVersion: string;
  serviceCounters: Record<string, number>;
}

interface Trial {
  rate: number;
  complete: boolean;
  cpu: CpuSplit;
}

function cpuFigures(trials: readonly Trial[]): CpuFigures {
  const role = (pick: (c: CpuSplit) => number) => median(trials.map((t) => pick(t.cpu)));
  return {
    publisher: role((c) => c.publisher),
    broker: role((c) => c.broker),
    receiver: role((c) => c.receiver),
    total: summarize(trials.map(({ cpu }) => cpu.publisher + cpu.broker + cpu.receiver)),
  };
}

/**
 * Baseline and pipeline trials alternate within each run (the order rotates from run to run), so
 * every ratio compares trials that ran seconds apart on the same broker.
 */
export async function runThroughput(options: ThroughputOptions, qos: 0 | 1): Promise<ThroughputResult> {
  const { pki, brokerPort, runs, lanes, log } = options;
  const url = `mqtts://127.0.0.1:${brokerPort}`;
  const total = options.messages[qos];
  const serviceDir = join(options.dir, `throughput-qos${qos}`);
  mkdirSync(serviceDir, { recursive: true });

  // Baseline: raw publishers (the service's identity may write control topics) -> one raw
  // subscriber (device bench-raw reading its control topic). The key service never subscribes to
  // control topics, so it stays idle while the baseline runs on the same broker.
  const rawTopic = deviceTopic(pki.rawReader.id, 'control');
  const subscriber = WorkerProcess.start(new URL('./workers/raw-subscriber.ts', import.meta.url).pathname);
  subscriber.send({ type: 'setup', url, caPem: pki.caPem, ...pki.rawReader.credential, topic: rawTopic });
  await subscriber.next('ready', 30_000);
  const payload = randomBytes(BASELINE_PAYLOAD_BYTES);
  const rawClients = await Promise.all(
    Array.from({ length: lanes }, (_, i) => connectClient(url, clientOptions(pki.caPem, pki.service, `bench-raw-pub-${i}`))),
  );
  const rawLanes: Lane[] = rawClients.map((client) => ({ client, topic: rawTopic, next: () => payload }));
  const tlsVersion = rawClients[0] ? tlsVersionOf(rawClients[0]) : 'unknown';

  let service: ServiceHandle | undefined;
  let devices: ProtocolDevice[] = [];
  try {
    service = await startKeyService({
      dir: serviceDir,
      pki,
      brokerPort,
      ...(options.cpuProfileDir ? { cpuProfileDir: options.cpuProfileDir } : {}),
    });
    const trust = new TrustStore(pki.caPem);
    devices = await Promise.all(pki.ecDevices.slice(0, lanes).map((d) => ProtocolDevice.connect(url, pki.caPem, d.id, d.credential)));
    await Promise.all(devices.map((d) => d.keyExchange(trust, SERVICE_IDENTITY)));
    const svc = service;

    // The same key size, device ids (so the same AAD) and readings as the devices use.
    const sealedLanes: Lane[] = rawClients.map((client, i) => {
      const key = randomBytes(32);
      const deviceId = devices[i]?.id ?? `dev-${i}`;
      let seq = 0;
      return {
        client,
        topic: rawTopic,
        next: () => sealEnvelope(key, deviceId, { keyId: 1, seq: seq++, sentAt: Date.now() }, encodeReadings(readingsAt(Date.now(), DEFAULT_BATCH))),
      };
    });

    const subscriberCpu = cpuMeter({ broker: options.brokerPid, receiver: subscriber.pid });
    const serviceCpu = cpuMeter({ broker: options.brokerPid, receiver: svc.pid });

    const baselineTrial = async (count: number, lanes = rawLanes): Promise<Trial> => {
      subscriber.send({ type: 'expect', count });
      await subscriber.next('expecting', 5_000);
      subscriberCpu.start();
      const started = performance.now();
      await publishAll(lanes, count, qos);
      const done = await subscriber.next('done', stallLimitMs(count)).catch(() => undefined);
      if (done) return { rate: count / ((performance.now() - started) / 1000), complete: true, cpu: subscriberCpu.stop(count) };
      // QoS 0 may drop: report what arrived, and flag the run.
      subscriber.send({ type: 'status' });
      const status = await subscriber.next('status', 5_000);
      return { rate: Number(status.received) / ((performance.now() - started) / 1000), complete: false, cpu: subscriberCpu.stop(count) };
    };

    const pipelineTrial = async (count: number, batch: number): Promise<Trial> => {
      const deviceLanes: Lane[] = devices.map((device) => ({
        client: device.client,
        topic: device.telemetryTopic,
        next: () => device.seal(readingsAt(Date.now(), batch)),
      }));
      const before = await svc.metric(STORED);
      // QoS 0 rows are committed on the same schedule as QoS 1 rows (ack-after-commit.ts), so every
      // reading sent is countable without a trailing QoS 1 message.
      const expected = count * batch;
      serviceCpu.start();
      const started = performance.now();
      await publishAll(deviceLanes, count, qos);
      const { stored, lastChangeAt } = await waitForStoredTimed(svc, before + expected, stallLimitMs(count));
      const complete = stored >= before + expected;
      // An incomplete run (QoS 0 drops) is timed to its last stored reading, not to the stall timeout.
      const elapsed = ((complete ? performance.now() : lastChangeAt) - started) / 1000;
      return { rate: (stored - before) / batch / elapsed, complete, cpu: serviceCpu.stop(count) };
    };

    // Warm-up (not counted): JIT, TLS buffers, SQLite pages.
    await baselineTrial(Math.ceil(total / 5));
    for (const batch of options.batches) await pipelineTrial(Math.ceil(total / 5), batch);

    const baseline: Trial[] = [];
    const sealed: Trial[] = [];
    const pipelines = new Map<number, Trial[]>(options.batches.map((b) => [b, []]));
    for (let run = 0; run < runs; run++) {
      const steps: (() => Promise<void>)[] = [
        async () => void baseline.push(await baselineTrial(total)),
        async () => void sealed.push(await baselineTrial(total, sealedLanes)),
        ...options.batches.map((batch) => async () => void pipelines.get(batch)?.push(await pipelineTrial(total, batch))),
      ];
      const shift = run % steps.length; // rotate the order so drift does not favour one side
      for (let i = 0; i < steps.length; i++) await steps[(i + shift) % steps.length]?.();
      log(
        `  qos${qos} run ${run + 1}/${runs}: baseline ${Math.round(baseline[run]?.rate ?? 0)} msg/s, ` +
          `sealed b${DEFAULT_BATCH} no service ${Math.round(sealed[run]?.rate ?? 0)} msg/s, ` +
          options.batches.map((b) => `pipeline b${b} ${Math.round(pipelines.get(b)?.[run]?.rate ?? 0)} msg/s`).join(', '),
      );
    }

    const counters: Record<string, number> = {};
    for (const sample of [STORED, 'smqtt_duplicates_total', 'smqtt_envelopes_accepted_total', 'smqtt_rejections_total{code="bad-tag"}', 'smqtt_rejections_total{code="unknown-session"}']) {
      counters[sample] = await svc.metric(sample);
    }
    return {
      qos,
      messagesPerTrial: total,
      baselineMsgPerSec: summarize(baseline.map((t) => t.rate)),
      baselineIncompleteRuns: baseline.filter((t) => !t.complete).length,
      baselineCpu: cpuFigures(baseline),
      sealedCeiling: {
        batch: DEFAULT_BATCH,
        cpu: cpuFigures(sealed),
        msgPerSec: summarize(sealed.map((t) => t.rate)),
        ratio: summarize(sealed.map((t, i) => t.rate / (baseline[i]?.rate ?? Number.NaN))),
      },
      pipelines: options.batches.map((batch) => {
        const trials = pipelines.get(batch) ?? [];
        return {
          batch,
          envelopeBytes: envelopeBytes(batch),
          msgPerSec: summarize(trials.map((t) => t.rate)),
          readingsPerSec: summarize(trials.map((t) => t.rate * batch)),
          ratio: summarize(trials.map((t, i) => t.rate / (baseline[i]?.rate ?? Number.NaN))),
          incompleteRuns: trials.filter((t) => !t.complete).length,
          cpu: cpuFigures(trials),
        };
      }),
      tlsVersion,
      serviceCounters: counters,
    };
  } finally {
    await Promise.all(devices.map((d) => endClient(d.client, true)));
    await Promise.all(rawClients.map((c) => endClient(c, true)));
    await subscriber.stop();
    await service?.stop();
    await clearServiceSession(pki, brokerPort).catch(() => undefined);
  }
}

/** A trial is given up when it takes this long: generous, since a slow service is what is measured. */
function stallLimitMs(count: number): number {
  return 20_000 + count / 2;
}

/** Polls the service's own counter of committed readings until it reaches `target`, or stalls. */
export async function waitForStored(service: ServiceHandle, target: number, limitMs: number): Promise<number> {
  return (await waitForStoredTimed(service, target, limitMs)).stored;
}

/** waitForStored, also saying when (performance.now()) the counter last grew. */
export async function waitForStoredTimed(service: ServiceHandle, target: number, limitMs: number): Promise<{ stored: number; lastChangeAt: number }> {
  const deadline = Date.now() + limitMs;
  let last = -1;
  let lastChangeAt = performance.now();
  for (;;) {
    const stored = await service.metric(STORED);
    if (stored >= target) return { stored, lastChangeAt: performance.now() };
    if (stored !== last) {
      last = stored;
      lastChangeAt = performance.now();
    }
    if (Date.now() > deadline || performance.now() - lastChangeAt > 10_000) return { stored, lastChangeAt };
    await new Promise((r) => setTimeout(r, 20));
  }
}
