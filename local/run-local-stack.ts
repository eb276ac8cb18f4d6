import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from './child-process.js';
import { MosquittoNotInstalledError } from './local-broker.js';
import { LocalStack } from './local-stack.js';

/**
 * `npm run local`: a throw-away PKI, Mosquitto with mutual TLS, the key service and a simulated fleet,
 * all on loopback. Prints decrypted readings as the service stores them. Ctrl-C stops everything.
 */
const USAGE = 'usage: npm run local -- [--devices N] [--rsa-devices K] [--interval ms] [--batch N] [--duration s] [--revoke sensor-002,...]';

interface StoredReadingJson {
  deviceId: string;
  keyId: number;
  seq: number;
  index: number;
  takenAt: number;
  temperatureC: number;
  humidityPct: number;
}

function positiveInt(name: string, raw: string | undefined, fallback: number, min = 1): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) {
    process.stderr.write(`--${name} must be an integer >= ${min}, got "${raw}"\n${USAGE}\n`);
    process.exit(2);
  }
  return value;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      devices: { type: 'string' },
      'rsa-devices': { type: 'string' },
      interval: { type: 'string' },
      batch: { type: 'string' },
      duration: { type: 'string' },
      revoke: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) return void process.stdout.write(`${USAGE}\n`);
  const devices = positiveInt('devices', values.devices, 3);
  const rsaDevices = Math.min(devices, positiveInt('rsa-devices', values['rsa-devices'], devices > 1 ? 1 : 0, 0));
  const intervalMs = positiveInt('interval', values.interval, 1_000, 10);
  const batchSize = positiveInt('batch', values.batch, 1);
  const durationS = values.duration === undefined ? undefined : positiveInt('duration', values.duration, 0);

  const dir = join(REPO_ROOT, '.stack', 'local');
  rmSync(dir, { recursive: true, force: true });
  const revokedDevices = values.revoke ? values.revoke.split(',').map((id) => id.trim()).filter(Boolean) : [];
  const stack = await LocalStack.start({ dir, devices, rsaDevices, intervalMs, batchSize, runFleet: true, revokedDevices });
  const { endpoints } = stack;
  process.stdout.write(
    [
      `broker   mqtts://${endpoints.broker.host}:${endpoints.broker.port}  (mutual TLS, TLS 1.2+, ACL per device)`,
      `api      ${endpoints.api.url}  (/api/readings, /api/devices, /metrics)`,
      `devices  ${devices} (${devices - rsaDevices} ECDH P-256, ${rsaDevices} RSA-OAEP), every ${intervalMs} ms, ${batchSize} per envelope`,
      ...(revokedDevices.length ? [`revoked  ${revokedDevices.join(', ')} (on the CRL: refused by the broker and the service)`] : []),
      `files    ${join(dir, 'endpoints.json')}, logs in ${join(dir, 'logs')}`,
      '',
      'decrypted readings as stored by the key service:',
      '',
    ].join('\n'),
  );

  let since = Date.now() - 60_000;
  const seen = new Set<string>();
  let stored = 0;
  const poll = async () => {
    const response = await fetch(`${endpoints.api.url}/api/readings?since=${since}&limit=1000`).catch(() => undefined);
    if (!response?.ok) return;
    const { readings } = (await response.json()) as { readings: StoredReadingJson[] };
    for (const r of readings) {
      const id = `${r.deviceId}/${r.keyId}/${r.seq}/${r.index}`;
      if (seen.has(id)) continue;
      seen.add(id);
      stored++;
      since = Math.max(since, r.takenAt);
      const time = new Date(r.takenAt).toISOString().slice(11, 23);
      process.stdout.write(
        `${time}  ${r.deviceId}  ${r.temperatureC.toFixed(2).padStart(6)} °C  ${r.humidityPct.toFixed(2).padStart(6)} %RH   key ${r.keyId.toString(16).padStart(8, '0')} seq ${r.seq}\n`,
      );
    }
    if (seen.size > 50_000) seen.clear();
  };
  const summary = async () => {
    const text = await fetch(`${endpoints.api.url}/metrics`).then((r) => r.text(), () => '');
    const pick = (name: string) =>
      text
        .split('\n')
        .filter((line) => line.startsWith(name) && !line.endsWith(' 0'))
        .map((line) => line.slice(name.length))
        .join(' ') || '0';
    process.stdout.write(
      `-- stored ${pick('smqtt_readings_stored_total')} | key exchanges ${pick('smqtt_key_exchanges_total')} | sessions ${pick('smqtt_active_sessions')} | duplicates ${pick('smqtt_duplicates_total')} | rejections ${pick('smqtt_rejections_total')}\n`,
    );
  };
  const pollTimer = setInterval(() => void poll(), 500);
  const summaryTimer = setInterval(() => void summary(), 5_000);

  let stopping = false;
  const stop = async (reason: string) => {
    if (stopping) return;
    stopping = true;
    clearInterval(pollTimer);
    clearInterval(summaryTimer);
    process.stdout.write(`\nstopping (${reason}): fleet, then key service, then broker...\n`);
    await stack.stop();
    process.stdout.write(`stopped. ${stored} decrypted readings shown; data kept in ${dir}\n`);
    process.exit(stored > 0 ? 0 : 1);
  };
  process.on('SIGINT', () => void stop('Ctrl-C'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  if (durationS !== undefined) {
    setTimeout(async () => {
      await poll();
      await summary();
      await stop(`--duration ${durationS}s`);
    }, durationS * 1000);
  }
}

main().catch((error: unknown) => {
  if (error instanceof MosquittoNotInstalledError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(3);
  }
  process.stderr.write(`local stack failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
