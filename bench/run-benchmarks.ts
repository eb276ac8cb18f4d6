import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBroker } from './broker.js';
import { cleanupAll, installExitHandlers, onCleanup } from './cleanup.js';
import { runEnvelopeCrypto } from './envelope-crypto.js';
import { runFleet } from './fleet-scale.js';
import { runKexRate } from './kex-rate.js';
import { runLatency } from './latency.js';
import { describeMachine } from './machine.js';
import { createBenchPki } from './pki.js';
import { renderTable, verdict, type Row } from './report.js';
import { BASELINE_PAYLOAD_BYTES, DEFAULT_BATCH, runThroughput, type CpuFigures } from './throughput.js';

/**
 * npm run bench [-- --quick] [--only crypto,kex,throughput,latency,fleet] [--cpu-prof DIR]
 * Quick mode keeps every figure at 5 runs but shortens each run and scales the fleet to 1,000.
 */
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = valueOf('--only')?.split(',');
const cpuProfileDir = valueOf('--cpu-prof');
const RUNS = 5;

const plan = quick
  ? { cryptoMs: 100, kexEc: 300, tpMessages: { 0: 32_000, 1: 16_000 }, latencyMs: 800, fleetSizes: [1_000], rsaCerts: 32 }
  : { cryptoMs: 500, kexEc: 2_000, tpMessages: { 0: 100_000, 1: 50_000 }, latencyMs: 5_000, fleetSizes: [1_000, 10_000], rsaCerts: 100 };

function valueOf(flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
}

const wanted = (name: string) => !only || only.includes(name);
const log = (line: string) => process.stderr.write(`${line}\n`);

async function main(): Promise<void> {
  installExitHandlers();
  const started = Date.now();
  const machine = describeMachine();
  const dir = mkdtempSync(join(tmpdir(), 'smqtt-bench-'));
  chmodSync(dir, 0o755); // mosquitto, started as root, drops to its own user and must reach its files
  onCleanup(`temp dir ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  const rows: Row[] = [];
  const results: Record<string, unknown> = {};

  const fleetMax = wanted('fleet') ? Math.max(...plan.fleetSizes) : 0;
  log(`[setup] PKI: ${Math.max(fleetMax, plan.kexEc, 8)} ECDSA P-256 + ${plan.rsaCerts} RSA-2048 device certificates`);
  const pki = await createBenchPki(join(dir, 'pki'), Math.max(fleetMax, plan.kexEc, 8), plan.rsaCerts);

  if (wanted('crypto')) {
    log('[crypto] sealEnvelope/openEnvelope');
    const crypto = runEnvelopeCrypto(RUNS, plan.cryptoMs);
    results.envelopeCrypto = crypto;
    for (const c of crypto) rows.push({ section: 'crypto', figure: `${c.operation}Envelope ${c.plaintextBytes} B plaintext`, unit: 'ops/s', value: c.opsPerSec });
  }

  if (wanted('kex')) {
    log('[kex] acceptKexRequest, cold and warm certificate cache');
    const kex = runKexRate(pki, RUNS, plan.kexEc, dir);
    results.keyExchange = kex;
    for (const k of kex) {
      const name = `${k.scheme === 'ecdhP256' ? 'ECDH (ECDSA P-256)' : 'RSA-OAEP (RSA-2048)'}${k.path === 'service' ? ' via service handler+SQLite' : ''}`;
      const target = k.scheme === 'ecdhP256' && k.path === 'protocol' ? { op: '>=' as const, value: 2_000 } : undefined;
      rows.push({ section: 'kex', figure: `${name}, cold (${k.certificates} certs)`, unit: 'kex/s', value: k.coldPerSec, ...(target ? { target } : {}) });
      rows.push({ section: 'kex', figure: `${name}, warm`, unit: 'kex/s', value: k.warmPerSec });
    }
  }

  if (wanted('throughput') || wanted('latency')) {
    const broker = await startBroker(join(dir, 'broker'), pki);
    try {
      if (wanted('throughput')) {
        const throughput = [];
        for (const qos of [1, 0] as const) {
          log(`[throughput] QoS ${qos}: baseline ${BASELINE_PAYLOAD_BYTES} B vs pipeline, ${plan.tpMessages[qos]} messages per trial`);
          const t = await runThroughput(
            { dir, pki, brokerPort: broker.port, brokerPid: broker.broker.pid, runs: RUNS, messages: plan.tpMessages, batches: [DEFAULT_BATCH, 1], lanes: 4, log, ...(cpuProfileDir ? { cpuProfileDir } : {}) },
            qos,
          );
          throughput.push(t);
          rows.push({ section: 'throughput', figure: `QoS ${qos} baseline raw ${BASELINE_PAYLOAD_BYTES} B (${t.tlsVersion})`, unit: 'msg/s', value: t.baselineMsgPerSec });
          // CPU per 1,000 messages by role: with every party on the same cores, this is what bounds a ratio.
          const cpuRow = (what: string, cpu: CpuFigures, receiver: string) =>
            rows.push({
              section: 'throughput',
              figure: `QoS ${qos} CPU per 1k msg, ${what} (publisher ${cpu.publisher.toFixed(1)} + broker ${cpu.broker.toFixed(1)} + ${receiver} ${cpu.receiver.toFixed(1)})`,
              unit: 'CPU ms',
              value: cpu.total,
            });
          cpuRow('baseline', t.baselineCpu, 'subscriber');
          cpuRow(`sealed ${t.sealedCeiling.batch}/env, no service`, t.sealedCeiling.cpu, 'subscriber');
          for (const p of t.pipelines) cpuRow(`pipeline ${p.batch}/env`, p.cpu, 'service');
          const ceiling = t.sealedCeiling;
          rows.push({ section: 'throughput', figure: `QoS ${qos} sealed ${ceiling.batch}/envelope, no service (ceiling)`, unit: 'msg/s', value: ceiling.msgPerSec });
          rows.push({ section: 'throughput', figure: `QoS ${qos} ceiling/baseline, ${ceiling.batch}/envelope`, unit: 'ratio', value: ceiling.ratio });
          for (const p of t.pipelines) {
            rows.push({ section: 'throughput', figure: `QoS ${qos} pipeline ${p.batch}/envelope (${p.envelopeBytes} B)`, unit: 'msg/s', value: p.msgPerSec });
            rows.push({ section: 'throughput', figure: `QoS ${qos} pipeline ${p.batch}/envelope`, unit: 'readings/s', value: p.readingsPerSec });
            const target = p.batch === DEFAULT_BATCH ? { op: '>=' as const, value: qos === 1 ? 0.8 : 0.7 } : undefined;
            rows.push({ section: 'throughput', figure: `QoS ${qos} pipeline/baseline, ${p.batch}/envelope`, unit: 'ratio', value: p.ratio, ...(target ? { target } : {}) });
          }
        }
        results.throughput = throughput;
      }
      if (wanted('latency')) {
        log('[latency] send -> stored, QoS 1');
        const latency = await runLatency({ dir, pki, brokerPort: broker.port, runs: RUNS, loads: [1_000, 5_000], durationMs: plan.latencyMs, batch: DEFAULT_BATCH, devices: 4, log });
        results.latency = latency;
        for (const l of latency) {
          rows.push({ section: 'latency', figure: `${l.offeredMsgPerSec} msg/s offered: achieved`, unit: 'msg/s', value: l.achievedMsgPerSec });
          rows.push({ section: 'latency', figure: `${l.offeredMsgPerSec} msg/s offered: p50`, unit: 'ms', value: l.p50Ms });
          const target = l.offeredMsgPerSec === 5_000 ? { op: '<' as const, value: 50 } : undefined;
          rows.push({ section: 'latency', figure: `${l.offeredMsgPerSec} msg/s offered: p99`, unit: 'ms', value: l.p99Ms, ...(target ? { target } : {}) });
        }
      }
    } finally {
      await broker.stop();
    }
  }

  if (wanted('fleet')) {
    log(`[fleet] ${plan.fleetSizes.join(', ')} devices`);
    const fleet = await runFleet({ dir, pki, runs: RUNS, sizes: plan.fleetSizes, concurrency: 64, log });
    results.fleet = fleet;
    for (const f of fleet) {
      const n = f.devices.toLocaleString('en-US');
      rows.push({ section: 'fleet', figure: `${n} devices: connection setup (${f.tls})`, unit: 'conn/s', value: f.connectPerSec });
      rows.push({ section: 'fleet', figure: `${n} devices: broker RSS per connection`, unit: 'KiB', value: f.brokerKiBPerConnection });
      rows.push({ section: 'fleet', figure: `${n} devices: simulator RSS per connection`, unit: 'KiB', value: f.simulatorRssKiBPerConnection });
      rows.push({ section: 'fleet', figure: `${n} devices: simulator heap per connection`, unit: 'KiB', value: f.simulatorHeapKiBPerConnection });
      rows.push({ section: 'fleet', figure: `${n} devices: key exchanges completed (end to end)`, unit: 'kex/s', value: f.kexCompletePerSec });
      rows.push({
        section: 'fleet',
        figure: `${n} devices: runs where all connected, re-keyed, stored a reading`,
        unit: `of ${f.connectPerSec.runs}`,
        value: { median: f.completeRuns, min: f.completeRuns, max: f.completeRuns, runs: f.connectPerSec.runs },
      });
    }
  }

  const table = renderTable(rows);
  const seconds = Math.round((Date.now() - started) / 1000);
  process.stdout.write(
    `\nsecure-mqtt-stack benchmarks (${quick ? 'quick' : 'full'}), ${new Date().toISOString()}, ${seconds} s\n` +
      `${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}, ${machine.mosquitto}\n` +
      `every figure: median of ${RUNS} runs [min, max]; ratios: pipeline/baseline trials paired within each run\n\n${table}\n`,
  );
  const out = join(dirname(fileURLToPath(import.meta.url)), 'results');
  mkdirSync(out, { recursive: true });
  const report = { mode: quick ? 'quick' : 'full', date: new Date().toISOString(), seconds, machine, rows: rows.map((r) => ({ ...r, verdict: verdict(r) })), results };
  writeFileSync(join(out, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(out, `latest-${quick ? 'quick' : 'full'}.json`), `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`\nwritten: bench/results/latest.json\n`);
}

main()
  .catch((error: unknown) => {
    process.stderr.write(`benchmarks failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  })
  .finally(() => cleanupAll());
