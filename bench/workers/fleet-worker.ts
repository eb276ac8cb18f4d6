import { readFileSync } from 'node:fs';
import { TrustStore } from '../../protocol/certificates.js';
import { ProtocolDevice, readingsAt } from '../bench-device.js';
import { endClient, tlsVersionOf } from '../mqtt-connect.js';

/**
 * The simulated fleet for the scale benchmark, in its own process so its memory is measured alone:
 * one mqtt.js client with its own certificate per device (full mutual-TLS handshakes; a shared
 * session cache cannot be used, since resuming another device's session would borrow its identity).
 * Steps run on the parent's command so the parent can sample the broker between them.
 */
type Command =
  | { type: 'setup'; url: string; caPem: string; devicesFile: string; count: number; concurrency: number; serviceName: string }
  | { type: 'connect' }
  | { type: 'kex' }
  | { type: 'send' }
  | { type: 'stop' };

let setup: Extract<Command, { type: 'setup' }> | undefined;
let identities: { id: string; certPem: string; keyPem: string }[] = [];
const devices: ProtocolDevice[] = [];
const send = (message: object) => process.send?.(message);

function memory() {
  (globalThis as { gc?: () => void }).gc?.();
  const usage = process.memoryUsage();
  return { rssKiB: usage.rss / 1024, heapUsedKiB: usage.heapUsed / 1024 };
}

/** Runs `task` for every item with at most `limit` in flight; answers how many failed. */
async function pool<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<number> {
  let next = 0;
  let failed = 0;
  const lane = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await task(item).catch(() => void failed++);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return failed;
}

async function handle(command: Command): Promise<void> {
  if (command.type === 'setup') {
    setup = command;
    identities = (JSON.parse(readFileSync(command.devicesFile, 'utf8')) as typeof identities).slice(0, command.count);
    send({ type: 'loaded', ...memory() });
  } else if (command.type === 'connect' && setup) {
    const { url, caPem } = setup;
    const started = performance.now();
    const failed = await pool(identities, setup.concurrency, async (d) => {
      devices.push(await ProtocolDevice.connect(url, caPem, d.id, { certPem: d.certPem, keyPem: d.keyPem }));
    });
    const ms = performance.now() - started;
    send({ type: 'connected', ms, connected: devices.length, failed, tls: devices[0] ? tlsVersionOf(devices[0].client) : 'none', ...memory() });
  } else if (command.type === 'kex' && setup) {
    const trust = new TrustStore(setup.caPem);
    const serviceName = setup.serviceName;
    const started = performance.now();
    const failed = await pool(devices, devices.length, (d) => d.keyExchange(trust, serviceName, 120_000));
    send({ type: 'kexed', ms: performance.now() - started, ok: devices.length - failed, failed, ...memory() });
  } else if (command.type === 'send') {
    const failed = await pool(devices, devices.length, (d) => {
      const now = Date.now();
      return new Promise<void>((resolve, reject) =>
        d.client.publish(d.telemetryTopic, d.seal(readingsAt(now, 1), now), { qos: 1 }, (error) => (error ? reject(error) : resolve())),
      );
    });
    send({ type: 'sent', ok: devices.length - failed, failed });
  } else if (command.type === 'stop') {
    await Promise.all(devices.map((d) => endClient(d.client, true)));
    process.exit(0);
  }
}

process.on('message', (command: Command) => {
  handle(command).catch((error: unknown) => send({ type: 'error', message: error instanceof Error ? error.message : String(error) }));
});
