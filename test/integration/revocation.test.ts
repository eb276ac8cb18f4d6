import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedDevice } from '../../device-sim/simulated-device.js';
import { SERVICE_IDENTITY } from '../../local/local-pki.js';
import { LocalStack } from '../../local/local-stack.js';
import type { Credential } from '../../local/throwaway-pki.js';
import { normalizeSerial, readRevocationList } from '../../revocation/index.js';
import { ApiClient, connectAs, eventually, readCredential, tlsHandshake, type BrokerAddress } from '../support/stack-clients.js';

/**
 * Revocation on the running stack: a CRL from the CA, reloaded by Mosquitto (SIGHUP) and the service.
 * The revoked device is refused at once (new connections by the broker; its session and any new key
 * exchange by the service), the others go on, and a renewed certificate for the same device works.
 */
let stack: LocalStack;
let broker: BrokerAddress;
let api: ApiClient;
const devices = new Map<string, SimulatedDevice>();

function startDevice(id: string, credential: Credential): SimulatedDevice {
  const device = new SimulatedDevice({
    deviceId: id,
    ...credential,
    caPem: broker.caPem,
    brokerUrl: stack.mqttUrl,
    serviceName: SERVICE_IDENTITY,
    intervalMs: 50,
    batchSize: 1,
    kexRetryMs: 1_000,
    backoff: { minMs: 100, maxMs: 500 },
  });
  device.start();
  devices.set(id, device);
  return device;
}

async function storedCount(deviceId: string): Promise<number> {
  const summary = await api.json<{ devices: { deviceId: string; readings: number }[] }>('/api/devices');
  return summary.devices.find((d) => d.deviceId === deviceId)?.readings ?? 0;
}

async function newestReadingAt(deviceId: string): Promise<number> {
  const summary = await api.json<{ devices: { deviceId: string; lastReadingAt: number | null }[] }>('/api/devices');
  return summary.devices.find((d) => d.deviceId === deviceId)?.lastReadingAt ?? 0;
}

beforeAll(async () => {
  stack = await LocalStack.start({ dir: mkdtempSync(join(tmpdir(), 'smqtt-revocation-')), devices: 3, intervalMs: 50, runFleet: false });
  broker = { ...stack.endpoints.broker, caPem: readFileSync(stack.endpoints.caCertPath, 'utf8') };
  api = new ApiClient(stack.endpoints.api.url);
  for (const paths of stack.pki.devices) startDevice(paths.id, readCredential(paths));
  await eventually(async () => {
    for (const paths of stack.pki.devices) expect(await storedCount(paths.id)).toBeGreaterThan(5);
  }, 20_000);
}, 60_000);

afterAll(async () => {
  await Promise.all([...devices.values()].map((d) => d.stop()));
  await stack?.stop();
});

describe('revocation through the CA revocation list', () => {
  it('refuses the revoked device at once, keeps serving the others, and accepts its renewed certificate', async () => {
    const [kept, revokedId, alsoKept] = stack.pki.devices.map((d) => d.id) as [string, string, string];
    const oldCredential = readCredential(stack.pki.devices[1]!);
    expect(await tlsHandshake(broker, oldCredential, 'TLSv1.2')).toBe('TLSv1.2');

    const endedBefore = await api.metric('smqtt_sessions_revoked_total');
    const [serial] = await stack.revoke([revokedId]);

    // The service: the session set up with that certificate ends, and the device's new key exchange
    // (its connection is still open) is refused as revoked and counted.
    await eventually(async () => expect(await api.metric('smqtt_sessions_revoked_total')).toBeGreaterThanOrEqual(endedBefore + 1), 5_000, 20);
    const revokedAt = Date.now(); // the service has the list in force by now
    expect(await api.metric('smqtt_crl_revoked_certificates')).toBe(1);
    await eventually(async () => expect(await api.metric('smqtt_rejections_total{code="revoked-certificate"}')).toBeGreaterThan(0), 10_000);
    // The broker: a new TLS connection with the revoked certificate fails in the handshake.
    await expect(tlsHandshake(broker, oldCredential, 'TLSv1.2')).rejects.toThrow(/certificate revoked/);
    await expect(connectAs(broker, oldCredential, 'revoked-again')).rejects.toThrow();

    // Nothing the revoked device took after the revocation is stored; the others go on.
    const counts = { kept: await storedCount(kept), alsoKept: await storedCount(alsoKept) };
    await eventually(async () => {
      expect(await storedCount(kept)).toBeGreaterThan(counts.kept + 10);
      expect(await storedCount(alsoKept)).toBeGreaterThan(counts.alsoKept + 10);
    }, 10_000);
    expect(await newestReadingAt(revokedId)).toBeLessThanOrEqual(revokedAt);
    // The CRL both the broker and the service read lists that certificate, signed by the stack CA.
    const inForce = await readRevocationList(readFileSync(stack.endpoints.crlPath, 'utf8'), broker.caPem, new Date());
    expect(inForce.revokedSerials.has(normalizeSerial(serial!))).toBe(true);

    // Renewal: a new key and certificate for the same device id connects and is served again.
    await devices.get(revokedId)!.stop();
    const renewed = readCredential(await stack.renew(revokedId));
    expect(await tlsHandshake(broker, renewed, 'TLSv1.2')).toBe('TLSv1.2');
    const before = await storedCount(revokedId);
    startDevice(revokedId, renewed);
    await eventually(async () => expect(await storedCount(revokedId)).toBeGreaterThan(before + 5), 15_000);
    expect(await newestReadingAt(revokedId)).toBeGreaterThan(revokedAt);
  }, 60_000);

  it('keeps the list in force when a bad CRL arrives, and counts the refusal', async () => {
    const rejected = await api.metric('smqtt_crl_rejected_total');
    const inForce = await api.metric('smqtt_crl_revoked_certificates');
    writeFileSync(stack.endpoints.crlPath, '-----BEGIN X509 CRL-----\nnot a crl\n-----END X509 CRL-----\n');
    stack.service.signal('SIGHUP');
    await eventually(async () => expect(await api.metric('smqtt_crl_rejected_total')).toBeGreaterThan(rejected), 5_000);
    expect(await api.metric('smqtt_crl_revoked_certificates')).toBe(inForce);
  });
});
