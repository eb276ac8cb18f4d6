import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pemToDer } from '../../protocol/certificates.js';
import { createKexRequest } from '../../protocol/kex.js';
import { encodeReadings, type Reading } from '../../protocol/readings.js';
import { SERVICE_CERTIFICATES_TOPIC } from '../../protocol/topics.js';
import { decodeServiceCertificates } from '../../protocol/service-certificates.js';
import { TrustStore } from '../../protocol/certificates.js';
import { SimulatedDevice } from '../../device-sim/simulated-device.js';
import { LocalStack } from '../../local/local-stack.js';
import { SERVICE_IDENTITY } from '../../local/local-pki.js';
import { CertificateAuthority, type Credential } from '../../local/throwaway-pki.js';
import { identityFrom } from '../support/fixtures.js';
import { ApiClient, connectAs, eventually, readCredential, tlsHandshake, type BrokerAddress } from '../support/stack-clients.js';

/**
 * The runtime against real Mosquitto with mutual TLS: a key-service process, devices in this process
 * (so the test knows exactly what each one sent), an auditor identity that may read telemetry, and
 * attackers with credentials from the stack CA and from a rogue CA.
 */
const REPLAY_WINDOW = 32;
const AUDITOR = 'auditor.svc';

interface StoredReading extends Reading {
  deviceId: string;
  keyId: number;
  seq: number;
}

let stack: LocalStack;
let broker: BrokerAddress;
let api: ApiClient;
let devices: SimulatedDevice[];
const delivered = new Map<string, Reading[]>();
const observed: { topic: string; payload: Buffer }[] = [];
let auditor: MqttClient;
const attackers: MqttClient[] = [];
let rogueCa: CertificateAuthority;

async function readingsOf(deviceId: string): Promise<StoredReading[]> {
  const all: StoredReading[] = [];
  for (let since = 0; ; ) {
    const { readings } = await api.json<{ readings: StoredReading[] }>(`/api/readings?device=${deviceId}&since=${since}&limit=1000`);
    const fresh = readings.filter((r) => r.takenAt > since || since === 0);
    all.push(...fresh);
    if (readings.length < 1000) return dedupeById(all);
    since = readings[readings.length - 1]!.takenAt;
  }
}

function dedupeById(readings: StoredReading[]): StoredReading[] {
  const byId = new Map(readings.map((r) => [`${r.keyId}/${r.seq}/${(r as unknown as { index: number }).index}`, r]));
  return [...byId.values()];
}

const key = (r: Reading) => `${r.takenAt}|${r.temperatureC}|${r.humidityPct}`;

function startDevices(): SimulatedDevice[] {
  return stack.pki.devices.map((paths, i) => {
    const credential = readCredential(paths);
    const device = new SimulatedDevice({
      deviceId: paths.id,
      ...credential,
      caPem: broker.caPem,
      brokerUrl: stack.mqttUrl,
      serviceName: SERVICE_IDENTITY,
      intervalMs: 40,
      batchSize: 1 + (i % 3), // 1, 2 and 3 readings per envelope
      // The third device rotates its session key every 5 envelopes.
      ...(i === 2 ? { rotation: { maxMessages: 5, maxAgeMs: 3_600_000 } } : {}),
      kexRetryMs: 3_000,
      backoff: { minMs: 200, maxMs: 2_000 },
      onDelivered: (readings) => delivered.get(paths.id)!.push(...readings),
    });
    delivered.set(paths.id, delivered.get(paths.id) ?? []);
    device.start();
    return device;
  });
}

async function attacker(credential: Partial<Credential>, clientId: string): Promise<MqttClient> {
  const client = await connectAs(broker, credential, clientId);
  attackers.push(client);
  return client;
}

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'smqtt-stack-'));
  stack = await LocalStack.start({
    dir,
    devices: 4,
    rsaDevices: 1,
    intervalMs: 40,
    runFleet: false,
    telemetryReaders: [AUDITOR],
    serviceEnv: { KEY_SERVICE_REPLAY_WINDOW: String(REPLAY_WINDOW) },
  });
  broker = { ...stack.endpoints.broker, caPem: readFileSync(stack.endpoints.caCertPath, 'utf8') };
  api = new ApiClient(stack.endpoints.api.url);
  rogueCa = await CertificateAuthority.create('rogue CA');

  auditor = await connectAs(broker, await stack.pki.ca.issue({ commonName: AUDITOR, usage: 'client' }), 'auditor');
  auditor.on('message', (topic, payload) => observed.push({ topic, payload: Buffer.from(payload) }));
  await auditor.subscribeAsync('devices/+/telemetry', { qos: 1 });
  devices = startDevices();
  // Every device completes a key exchange and gets readings through.
  await eventually(() => {
    for (const device of devices) expect(device.stats.delivered).toBeGreaterThan(10);
  }, 20_000);
}, 60_000);

afterAll(async () => {
  await Promise.all((devices ?? []).map((d) => d.stop()));
  for (const client of [auditor, ...attackers]) client?.end(true);
  await stack?.stop();
});

describe('the runtime on real Mosquitto with mutual TLS', () => {
  it('serves the service certificates retained, and devices accept them only through the CA', async () => {
    const client = await attacker(readCredential(stack.pki.devices[0]!), 'cert-reader');
    const payload = await new Promise<Buffer>((resolve) => {
      client.on('message', (topic, message) => topic === SERVICE_CERTIFICATES_TOPIC && resolve(message));
      void client.subscribeAsync(SERVICE_CERTIFICATES_TOPIC, { qos: 1 });
    });
    const announced = decodeServiceCertificates(payload).certificates;
    const trust = new TrustStore(broker.caPem);
    expect(() => trust.verifyServiceCertificate(pemToDer(announced.ecdhP256!), SERVICE_IDENTITY, 'ecdhP256', Date.now())).not.toThrow();
    expect(() => trust.verifyServiceCertificate(pemToDer(announced.rsaOaepSha256!), SERVICE_IDENTITY, 'rsaOaepSha256', Date.now())).not.toThrow();
  });

  it('reports every device with a current session in /metrics, rotations included', async () => {
    expect(devices.length).toBeGreaterThan(1);
    expect(await api.metric('smqtt_active_sessions')).toBe(devices.length);
  });

  it('sees no plaintext on the telemetry topics: no reading bytes, values or field names', async () => {
    await eventually(() => expect(observed.length).toBeGreaterThan(40));
    const allDelivered = [...delivered.values()].flat();
    const payloads = Buffer.concat(observed.map((o) => o.payload));
    const text = payloads.toString('latin1');
    for (const word of ['temperature', 'humidity', 'takenAt', 'Celsius']) expect(text).not.toContain(word);
    for (const reading of allDelivered.slice(0, 200)) {
      expect(payloads.includes(encodeReadings([reading]).subarray(1))).toBe(false);
      expect(text).not.toContain(reading.temperatureC.toFixed(2));
    }
  });

  describe('refused at the broker, and counted from its log', () => {
    const refusals = (reason: string) => api.metric(`smqtt_broker_refusals_total{reason="${reason}"}`);

    it('a client without a certificate', async () => {
      const before = await refusals('no-client-certificate');
      await expect(connectAs(broker, {}, 'anonymous')).rejects.toThrow();
      await eventually(async () => expect(await refusals('no-client-certificate')).toBe(before + 1));
    });

    it('a certificate from another CA', async () => {
      const rogue = await rogueCa.issue({ commonName: 'sensor-001', usage: 'client' });
      const before = await refusals('untrusted-certificate');
      await expect(connectAs(broker, rogue, 'rogue-sensor-001')).rejects.toThrow();
      await eventually(async () => expect(await refusals('untrusted-certificate')).toBe(before + 1));
    });

    it('TLS 1.1 and 1.0, while TLS 1.2 and 1.3 complete with the same certificate', async () => {
      const credential = readCredential(stack.pki.devices[0]!);
      const before = await refusals('tls-version');
      await expect(tlsHandshake(broker, credential, 'TLSv1.1')).rejects.toThrow(/version|alert|protocol/i);
      await expect(tlsHandshake(broker, credential, 'TLSv1')).rejects.toThrow(/version|alert|protocol/i);
      await expect(tlsHandshake(broker, credential, 'TLSv1.2')).resolves.toBe('TLSv1.2');
      await expect(tlsHandshake(broker, credential, 'TLSv1.3')).resolves.toBe('TLSv1.3');
      await eventually(async () => expect(await refusals('tls-version')).toBe(before + 2));
    });

    it('publishing on another device topic (PUBACK reason 135), and reading other devices through "#"', async () => {
      const credential = readCredential(stack.pki.devices[0]!);
      const client = await attacker(credential, 'sensor-001-intruder');
      await expect(client.publishAsync('devices/sensor-002/telemetry', Buffer.from('forged'), { qos: 1 })).rejects.toThrow(/Not authorized/);
      await expect(client.publishAsync('devices/sensor-001/control', Buffer.from('{}'), { qos: 1 })).rejects.toThrow(/Not authorized/);
      const seen: string[] = [];
      client.on('message', (topic) => seen.push(topic));
      await client.subscribeAsync('#', { qos: 1 });
      const before = observed.length;
      await eventually(() => expect(observed.length).toBeGreaterThan(before + 20), 5_000);
      expect(seen.filter((topic) => topic.startsWith('devices/') && !topic.startsWith('devices/sensor-001/'))).toEqual([]);
      const stored = await readingsOf('sensor-002');
      expect(stored.every((r) => r.temperatureC !== undefined)).toBe(true); // nothing "forged" became a reading
    });
  });

  describe('refused by the service and counted in /metrics', () => {
    const telemetryOf = (deviceId: string) => observed.filter((o) => o.topic === `devices/${deviceId}/telemetry`).map((o) => o.payload);

    it('an envelope replayed from behind the window (replay), and one repeated at once (duplicate)', async () => {
      const [first] = telemetryOf('sensor-001');
      await eventually(() => expect(telemetryOf('sensor-001').length).toBeGreaterThan(REPLAY_WINDOW + 2), 10_000);
      const latest = telemetryOf('sensor-001').at(-1)!; // taken now: the auditor will also see the replay
      const client = await attacker(readCredential(stack.pki.devices[0]!), 'sensor-001-replayer');
      const replays = await api.metric('smqtt_rejections_total{code="replay"}');
      await client.publishAsync('devices/sensor-001/telemetry', first!, { qos: 1 });
      await eventually(async () => expect(await api.metric('smqtt_rejections_total{code="replay"}')).toBe(replays + 1));
      const duplicates = await api.metric('smqtt_duplicates_total');
      await client.publishAsync('devices/sensor-001/telemetry', latest, { qos: 1 });
      await eventually(async () => expect(await api.metric('smqtt_duplicates_total')).toBe(duplicates + 1));
    });

    it('a flipped ciphertext bit (bad-tag)', async () => {
      const client = await attacker(readCredential(stack.pki.devices[1]!), 'sensor-002-tamperer');
      const tampered = Buffer.from(telemetryOf('sensor-002').at(-1)!);
      tampered[20]! ^= 0x01;
      const before = await api.metric('smqtt_rejections_total{code="bad-tag"}');
      await client.publishAsync('devices/sensor-002/telemetry', tampered, { qos: 1 });
      await eventually(async () => expect(await api.metric('smqtt_rejections_total{code="bad-tag"}')).toBe(before + 1));
    });

    it('a key exchange signed by the wrong key (bad-signature), and one carrying another device certificate (identity-mismatch)', async () => {
      const own = readCredential(stack.pki.devices[0]!);
      const other = readCredential(stack.pki.devices[1]!);
      const client = await attacker(own, 'sensor-001-forger');
      const announced = decodeServiceCertificates(
        await new Promise<Buffer>((resolve) => {
          client.on('message', (topic, message) => topic === SERVICE_CERTIFICATES_TOPIC && resolve(message));
          void client.subscribeAsync(SERVICE_CERTIFICATES_TOPIC, { qos: 1 });
        }),
      ).certificates;
      const service = new TrustStore(broker.caPem).verifyServiceCertificate(pemToDer(announced.ecdhP256!), SERVICE_IDENTITY, 'ecdhP256', Date.now());
      const request = (identity: ReturnType<typeof identityFrom>) =>
        createKexRequest({ identity, service, scheme: 'ecdhP256', keyId: 4242, now: Date.now() }).message;

      const wrongKey = { ...identityFrom('sensor-001', own), privateKey: identityFrom('sensor-002', other).privateKey };
      const badSignatures = await api.metric('smqtt_rejections_total{code="bad-signature"}');
      await client.publishAsync('devices/sensor-001/kex', request(wrongKey), { qos: 1 });
      await eventually(async () => expect(await api.metric('smqtt_rejections_total{code="bad-signature"}')).toBe(badSignatures + 1));

      const otherCertificate = { ...identityFrom('sensor-002', other), deviceId: 'sensor-001' };
      const mismatches = await api.metric('smqtt_rejections_total{code="identity-mismatch"}');
      await client.publishAsync('devices/sensor-001/kex', request(otherCertificate), { qos: 1 });
      await eventually(async () => expect(await api.metric('smqtt_rejections_total{code="identity-mismatch"}')).toBe(mismatches + 1));
    });
  });

  it('loses nothing across a killed service, a broker restart and key rotations: every reading stored exactly once', async () => {
    const progressed = async (seconds: number) => {
      const mark = Object.fromEntries(devices.map((d) => [d.deviceId, d.stats.delivered]));
      await eventually(() => {
        for (const device of devices) expect(device.stats.delivered).toBeGreaterThan(mark[device.deviceId]! + 10);
      }, seconds * 1000);
    };
    await stack.restartService('SIGKILL');
    await progressed(15);
    const buffered = () => devices.reduce((n, d) => n + d.stats.buffered, 0);
    await stack.broker.stop();
    await eventually(() => expect(buffered()).toBeGreaterThan(devices.length * 5), 5_000); // offline: readings wait on the device
    await stack.broker.restart();
    await progressed(20);
    await Promise.all(devices.map((d) => d.stop()));
    expect(devices[2]!.stats.keyExchanges).toBeGreaterThan(2);

    for (const device of devices) {
      const sent = delivered.get(device.deviceId)!;
      expect(device.stats).toMatchObject({ dropped: 0, inFlight: 0, buffered: 0 });
      expect(sent.length).toBe(device.stats.taken);
      const stored = await eventually(async () => {
        const rows = await readingsOf(device.deviceId);
        expect(rows.length).toBe(sent.length);
        return rows;
      }, 15_000);
      expect(new Set(stored.map(key))).toEqual(new Set(sent.map(key)));
      expect(new Set(stored.map((r) => `${r.keyId}/${r.seq}/${(r as unknown as { index: number }).index}`)).size).toBe(sent.length);
    }
    const summary = await api.json<{ devices: { deviceId: string; readings: number }[] }>('/api/devices');
    expect(summary.devices.map((d) => d.deviceId)).toEqual(devices.map((d) => d.deviceId));
  }, 90_000);
});
