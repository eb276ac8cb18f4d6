import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join, resolve } from 'node:path';
import mqtt from 'mqtt';
import { freePort } from '../local/ports.js';
import { REPO_ROOT } from '../local/child-process.js';
import { sampleValue } from '../services/key-service/metrics.js';
import { onCleanup } from './cleanup.js';
import { SERVICE_IDENTITY, type BenchPki } from './pki.js';

export interface ServiceOptions {
  dir: string;
  pki: BenchPki;
  brokerPort: number;
  /** Another checkout to run the service from (a scratch copy with a candidate fix); default this repo. */
  root?: string;
  /** Write a V8 CPU profile of the service into this directory when it exits. */
  cpuProfileDir?: string;
  clientId?: string;
}

export interface ServiceHandle {
  pid: number | undefined;
  apiUrl: string;
  dbPath: string;
  metric(sample: string): Promise<number>;
  stop(): Promise<void>;
}

/**
 * The real key service as its own process, configured through its environment exactly as
 * local/local-stack.ts does it, with a fresh database. A separate process (not in-process) so that
 * devices, broker and service compete for the two cores the way a deployment's processes would.
 */
export async function startKeyService(options: ServiceOptions): Promise<ServiceHandle> {
  const { dir, pki } = options;
  const root = resolve(options.root ?? process.env.SMQTT_BENCH_SERVICE_ROOT ?? REPO_ROOT);
  const apiPort = await freePort();
  const dbPath = join(dir, 'key-service.db');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    KEY_SERVICE_MQTT_URL: `mqtts://127.0.0.1:${options.brokerPort}`,
    KEY_SERVICE_NAME: SERVICE_IDENTITY,
    KEY_SERVICE_CLIENT_ID: options.clientId ?? 'key-service',
    KEY_SERVICE_CA_CERT_FILE: pki.local.caCertPath,
    KEY_SERVICE_CLIENT_CERT_FILE: pki.local.service.certPath,
    KEY_SERVICE_CLIENT_KEY_FILE: pki.local.service.keyPath,
    KEY_SERVICE_KEX_EC_CERT_FILE: pki.local.serviceKexEc.certPath,
    KEY_SERVICE_KEX_EC_KEY_FILE: pki.local.serviceKexEc.keyPath,
    KEY_SERVICE_KEX_RSA_CERT_FILE: pki.local.serviceKexRsa.certPath,
    KEY_SERVICE_KEX_RSA_KEY_FILE: pki.local.serviceKexRsa.keyPath,
    KEY_SERVICE_DB_PATH: dbPath,
    KEY_SERVICE_HTTP_PORT: String(apiPort),
    // Refusal warnings only; info-level logging per message is not part of the hot path.
    KEY_SERVICE_LOG_LEVEL: 'warn',
  };
  const nodeArgs = options.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`] : [];
  const log = createWriteStream(join(dir, 'key-service.log'), { flags: 'a' });
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', join(root, 'services/key-service/main.ts')], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const stop = onCleanup(`key-service pid ${child.pid}`, async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  });
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`key service exited with ${child.exitCode}; see ${join(dir, 'key-service.log')}`);
    const ready = await fetch(`${apiUrl}/readyz`).then((r) => r.ok, () => false);
    if (ready) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error('key service not ready within 30 s');
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    pid: child.pid,
    apiUrl,
    dbPath,
    async metric(sample) {
      const text = await (await fetch(`${apiUrl}/metrics`)).text();
      return sampleValue(text, sample) ?? Number.NaN;
    },
    stop,
  };
}

/**
 * Deletes the service's persistent MQTT session on the broker (a clean start under its client id),
 * so no queue builds up for a stopped service while other runs use the broker.
 */
export async function clearServiceSession(pki: BenchPki, brokerPort: number, clientId = 'key-service'): Promise<void> {
  const client = mqtt.connect(`mqtts://127.0.0.1:${brokerPort}`, {
    clientId,
    protocolVersion: 5,
    clean: true,
    ca: pki.caPem,
    cert: pki.service.certPem,
    key: pki.service.keyPem,
    reconnectPeriod: 0,
  });
  await new Promise<void>((done, fail) => {
    client.once('connect', () => done());
    client.once('error', fail);
  });
  await new Promise<void>((done) => client.end(false, {}, () => done()));
}
