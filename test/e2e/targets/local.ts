import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { DEFAULT_BROKER_LIMITS } from '../../../broker-config/mosquitto-config.js';
import { LocalStack } from '../../../local/local-stack.js';
import { SERVICE_IDENTITY } from '../../../local/local-pki.js';
import type { E2eEndpoints } from '../endpoints.js';

/** Target 1: the stack of `npm run local` (Mosquitto, key service and fleet as local processes). */
let stack: LocalStack | undefined;
let dir: string | undefined;

export async function setup(project: TestProject): Promise<void> {
  dir = mkdtempSync(join(tmpdir(), 'smqtt-e2e-local-'));
  stack = await LocalStack.start({ dir, devices: 3, rsaDevices: 1, intervalMs: 300, runFleet: true, telemetryReaders: ['auditor.svc'] });
  const endpoints: E2eEndpoints = {
    broker: stack.endpoints.broker,
    apiUrl: stack.endpoints.api.url,
    caCertPem: readFileSync(stack.endpoints.caCertPath, 'utf8'),
    caKeyPem: stack.pki.ca.credential.keyPem,
    fleetDeviceIds: stack.endpoints.devices.map((d) => d.id),
    serviceName: SERVICE_IDENTITY,
    auditorIdentity: 'auditor.svc',
    replayWindow: 1024,
    messageSizeLimit: DEFAULT_BROKER_LIMITS.messageSizeLimit,
  };
  project.provide('endpoints', endpoints);
}

export async function teardown(): Promise<void> {
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}
