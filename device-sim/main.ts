import { readFileSync, writeFileSync } from 'node:fs';
import { ConfigError } from '../env-config/env-reader.js';
import { loadDeviceSimConfig } from './config.js';
import { SimulatedDevice } from './simulated-device.js';

/** Runs every device listed in DEVICE_SIM_DEVICES_FILE in this process; SIGTERM drains and stops. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadDeviceSimConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const caPem = readFileSync(config.caCertFile, 'utf8');
  const devices = config.devices.map(
    (device) =>
      new SimulatedDevice({
        deviceId: device.id,
        certPem: readFileSync(device.certPath, 'utf8'),
        keyPem: readFileSync(device.keyPath, 'utf8'),
        caPem,
        brokerUrl: config.mqttUrl,
        serviceName: config.serviceName,
        intervalMs: config.intervalMs,
        batchSize: config.batchSize,
        rotation: { maxMessages: config.rotateAfterMessages, maxAgeMs: config.rotateAfterSeconds * 1000 },
      }),
  );
  for (const device of devices) device.start();
  const report = () =>
    process.stdout.write(`${JSON.stringify({ msg: 'device-sim stats', time: Date.now(), devices: devices.map((d) => ({ id: d.deviceId, ...d.stats })) })}\n`);
  const statsTimer = config.statsIntervalMs > 0 ? setInterval(report, config.statsIntervalMs) : undefined;
  const heartbeatFile = config.heartbeatFile;
  const heartbeat = heartbeatFile
    ? setInterval(() => {
        const connected = devices.filter((d) => d.stats.connected).length;
        writeFileSync(heartbeatFile, JSON.stringify({ time: Date.now(), devices: devices.length, connected }));
      }, 10_000)
    : undefined;
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    clearInterval(statsTimer);
    clearInterval(heartbeat);
    await Promise.all(devices.map((device) => device.stop()));
    report();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
}

main().catch((error: unknown) => {
  process.stderr.write(`device-sim failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
