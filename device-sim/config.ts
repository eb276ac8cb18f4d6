import { readFileSync } from 'node:fs';
import { EnvReader } from '../env-config/env-reader.js';
import { isValidDeviceId } from '../protocol/topics.js';

/** A device's credentials on disk, as listed in endpoints.json and in the fleet's devices file. */
export interface DeviceCredentialPaths {
  id: string;
  certPath: string;
  keyPath: string;
}

export interface DeviceSimConfig {
  mqttUrl: string;
  caCertFile: string;
  devicesFile: string;
  devices: DeviceCredentialPaths[];
  serviceName: string;
  intervalMs: number;
  batchSize: number;
  rotateAfterMessages: number;
  rotateAfterSeconds: number;
  statsIntervalMs: number;
  /** Rewritten every 10 s with a connection summary; a container health check reads its age. */
  heartbeatFile: string | undefined;
}

export function loadDeviceSimConfig(env: NodeJS.ProcessEnv = process.env): DeviceSimConfig {
  const read = new EnvReader(env);
  const devicesFile = read.file('DEVICE_SIM_DEVICES_FILE');
  const config: DeviceSimConfig = {
    mqttUrl: read.mqttsUrl('DEVICE_SIM_MQTT_URL'),
    caCertFile: read.file('DEVICE_SIM_CA_CERT_FILE'),
    devicesFile,
    devices: [],
    serviceName: read.text('DEVICE_SIM_SERVICE_NAME', 'key-service.svc'),
    intervalMs: read.integer('DEVICE_SIM_INTERVAL_MS', 5_000, 10, 86_400_000),
    batchSize: read.integer('DEVICE_SIM_BATCH_SIZE', 1, 1, 255),
    rotateAfterMessages: read.integer('DEVICE_SIM_ROTATE_AFTER_MESSAGES', 100_000, 1, 0xffffffff),
    rotateAfterSeconds: read.integer('DEVICE_SIM_ROTATE_AFTER_SECONDS', 3_600, 1, 30 * 86_400),
    statsIntervalMs: read.integer('DEVICE_SIM_STATS_INTERVAL_MS', 0, 0, 86_400_000),
    heartbeatFile: read.text('DEVICE_SIM_HEARTBEAT_FILE', '') || undefined,
  };
  if (devicesFile && read.problems.length === 0) config.devices = readDevicesFile(devicesFile, read.problems);
  read.done('device-sim');
  return config;
}

/** `[{ "id", "certPath", "keyPath" }, ...]`: paths to PEM files, never the keys themselves. */
function readDevicesFile(path: string, problems: string[]): DeviceCredentialPaths[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    problems.push(`DEVICE_SIM_DEVICES_FILE: ${path} is not JSON`);
    return [];
  }
  if (!Array.isArray(parsed) || parsed.length === 0) {
    problems.push('DEVICE_SIM_DEVICES_FILE must hold a non-empty array of {id, certPath, keyPath}');
    return [];
  }
  return parsed.flatMap((entry: unknown, i) => {
    const { id, certPath, keyPath } = (entry ?? {}) as Record<string, unknown>;
    if (typeof id !== 'string' || !isValidDeviceId(id) || typeof certPath !== 'string' || typeof keyPath !== 'string') {
      problems.push(`DEVICE_SIM_DEVICES_FILE entry ${i} needs a valid id ([a-z0-9-]), certPath and keyPath`);
      return [];
    }
    return [{ id, certPath, keyPath }];
  });
}
