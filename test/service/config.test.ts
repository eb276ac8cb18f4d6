import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadDeviceSimConfig } from '../../device-sim/config.js';
import { ConfigError } from '../../env-config/env-reader.js';
import { loadConfig } from '../../services/key-service/config.js';

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('configuration from the environment', () => {
  it('names every missing or bad key-service setting in one error', () => {
    const problems = problemsOf(() =>
      loadConfig({ KEY_SERVICE_MQTT_URL: 'mqtt://broker:1883', KEY_SERVICE_HTTP_PORT: 'eighty', KEY_SERVICE_LOG_LEVEL: 'loud', KEY_SERVICE_KEX_RSA_CERT_FILE: '/nope' }),
    );
    const text = problems.join('\n');
    for (const name of ['KEY_SERVICE_MQTT_URL must be mqtts', 'KEY_SERVICE_HTTP_PORT', 'KEY_SERVICE_LOG_LEVEL', 'KEY_SERVICE_CA_CERT_FILE is required', 'KEY_SERVICE_CLIENT_KEY_FILE is required', 'KEY_SERVICE_KEX_EC_KEY_FILE is required', 'KEY_SERVICE_KEX_RSA_CERT_FILE: no file', 'must be set together']) {
      expect(text).toContain(name);
    }
  });

  it('accepts a complete key-service environment with defaults for the rest', () => {
    const dir = mkdtempSync(join(tmpdir(), 'smqtt-config-'));
    const file = join(dir, 'x.pem');
    writeFileSync(file, 'x');
    const config = loadConfig({
      KEY_SERVICE_MQTT_URL: 'mqtts://127.0.0.1:8883',
      KEY_SERVICE_CA_CERT_FILE: file,
      KEY_SERVICE_CLIENT_CERT_FILE: file,
      KEY_SERVICE_CLIENT_KEY_FILE: file,
      KEY_SERVICE_KEX_EC_CERT_FILE: file,
      KEY_SERVICE_KEX_EC_KEY_FILE: file,
    });
    expect(config).toMatchObject({ httpPort: 8080, replayWindow: 1024, serviceName: 'key-service.svc', kexRsaCertFile: undefined });
  });

  it('validates the device-sim devices file entry by entry', () => {
    const dir = mkdtempSync(join(tmpdir(), 'smqtt-config-'));
    const devices = join(dir, 'devices.json');
    writeFileSync(devices, JSON.stringify([{ id: 'sensor-001', certPath: 'a', keyPath: 'b' }, { id: 'Bad_Id', certPath: 'a', keyPath: 'b' }]));
    const problems = problemsOf(() =>
      loadDeviceSimConfig({ DEVICE_SIM_MQTT_URL: 'mqtts://h:1', DEVICE_SIM_CA_CERT_FILE: devices, DEVICE_SIM_DEVICES_FILE: devices, DEVICE_SIM_BATCH_SIZE: '300' }),
    );
    expect(problems.join('\n')).toContain('DEVICE_SIM_BATCH_SIZE');
    const entryProblems = problemsOf(() =>
      loadDeviceSimConfig({ DEVICE_SIM_MQTT_URL: 'mqtts://h:1', DEVICE_SIM_CA_CERT_FILE: devices, DEVICE_SIM_DEVICES_FILE: devices }),
    );
    expect(entryProblems).toEqual(['DEVICE_SIM_DEVICES_FILE entry 1 needs a valid id ([a-z0-9-]), certPath and keyPath']);
  });
});
