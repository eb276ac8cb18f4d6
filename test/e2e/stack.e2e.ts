import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { SensorModel } from '../../device-sim/sensor-model.js';
import { SimulatedDevice } from '../../device-sim/simulated-device.js';
import { encodeReadings, type Reading } from '../../protocol/readings.js';
import { CertificateAuthority, type Credential } from '../../local/throwaway-pki.js';
import { identityFrom } from '../support/fixtures.js';
import { ApiClient, connectAs, eventually, tlsHandshake, type BrokerAddress } from '../support/stack-clients.js';
import { ProbeDevice } from './support/probe-device.js';
import { connect as plainConnect } from 'node:net';

/**
 * The end-to-end suite: the same assertions on every target. It holds the stack CA's key only to mint
 * its own identities (probe devices, an auditor, deliberately bad certificates).
 */
const endpoints = inject('endpoints');
const broker: BrokerAddress = { ...endpoints.broker, caPem: endpoints.caCertPem };
const api = new ApiClient(endpoints.apiUrl);
const run = randomBytes(3).toString('hex');
const probeId = (name: string) => `e2e-${run}-${name}`;

interface StoredReading extends Reading {
  deviceId: string;
  keyId: number;
  seq: number;
  index: number;
}

let ca: CertificateAuthority;
let rogueCa: CertificateAuthority;
const clients: MqttClient[] = [];
const probes: ProbeDevice[] = [];
const observed: { topic: string; payload: Buffer }[] = [];

async function allReadings(deviceId: string): Promise<StoredReading[]> {
  const rows = new Map<string, StoredReading>();
  for (let since = 0; ; ) {
    const { readings } = await api.json<{ readings: StoredReading[] }>(`/api/readings?device=${deviceId}&since=${since}&limit=1000`);
    for (const r of readings) rows.set(`${r.keyId}/${r.seq}/${r.index}`, r);
    if (readings.length < 1000) return [...rows.values()];
    since = readings[readings.length - 1]!.takenAt;
  }
}

const rejections = (code: string) => api.metric(`smqtt_rejections_total{code="${code}"}`);

async function probe(name: string, keyAlgorithm: 'ecdsa-p256' | 'rsa-2048' = 'ecdsa-p256'): Promise<ProbeDevice & { credential: Credential }> {
  const credential = await ca.issue({ commonName: probeId(name), usage: 'client', keyAlgorithm });
  const device = await ProbeDevice.connect(broker, credential, probeId(name), endpoints.serviceName);
  probes.push(device);
  return Object.assign(device, { credential });
}

beforeAll(async () => {
  ca = await CertificateAuthority.fromPem(endpoints.caCertPem, endpoints.caKeyPem);
  rogueCa = await CertificateAuthority.create('rogue CA');
  const auditorCredential = await ca.issue({ commonName: endpoints.auditorIdentity, usage: 'client' });
  const auditor = await connectAs(broker, auditorCredential, `auditor-${run}`);
  clients.push(auditor);
  auditor.on('message', (topic, payload) => observed.push({ topic, payload: Buffer.from(payload) }));
  await auditor.subscribeAsync('devices/+/telemetry', { qos: 1 });
}, 60_000);

afterAll(async () => {
  await Promise.all(probes.map((p) => p.close()));
  await Promise.all(clients.map((c) => c.endAsync(true)));
});

describe('delivery', () => {
  it('stores what every fleet device sent: each reading equals the device model at its time, once', async () => {
    await eventually(async () => {
      for (const id of endpoints.fleetDeviceIds) expect((await allReadings(id)).length).toBeGreaterThanOrEqual(3);
    }, 90_000, 1_000);
    for (const id of endpoints.fleetDeviceIds) {
      const model = new SensorModel(id);
      const stored = await allReadings(id);
      for (const r of stored) expect({ takenAt: r.takenAt, temperatureC: r.temperatureC, humidityPct: r.humidityPct }).toEqual(model.at(r.takenAt));
      expect(new Set(stored.map((r) => r.takenAt)).size).toBe(stored.length);
    }
  }, 120_000);

  it('stores exactly what probe devices sent, ECDH and RSA-OAEP, and nothing else', async () => {
    const sent = new Map<string, Reading[]>();
    const devices = await Promise.all(
      (['ecdsa-p256', 'rsa-2048'] as const).map(async (keyAlgorithm, i) => {
        const id = probeId(`sim-${i}`);
        const credential = await ca.issue({ commonName: id, usage: 'client', keyAlgorithm });
        sent.set(id, []);
        const device = new SimulatedDevice({
          deviceId: id,
          ...credential,
          caPem: endpoints.caCertPem,
          brokerUrl: `mqtts://${broker.host}:${broker.port}`,
          serviceName: endpoints.serviceName,
          intervalMs: 50,
          batchSize: 1 + i * 2,
          onDelivered: (readings) => sent.get(id)!.push(...readings),
        });
        device.start();
        return device;
      }),
    );
    await eventually(() => {
      for (const d of devices) expect(d.stats.delivered).toBeGreaterThanOrEqual(30);
    }, 30_000);
    await Promise.all(devices.map((d) => d.stop()));
    for (const [id, readings] of sent) {
      const stored = await eventually(async () => {
        const rows = await allReadings(id);
        expect(rows.length).toBe(readings.length);
        return rows;
      }, 15_000);
      const key = (r: Reading) => `${r.takenAt}|${r.temperatureC}|${r.humidityPct}`;
      expect(new Set(stored.map(key))).toEqual(new Set(readings.map(key)));
    }
  }, 60_000);

  it('stores readings sent at QoS 0 as well (they have no acknowledgement to wait for)', async () => {
    const device = await probe('qos0');
    await device.keyExchange();
    const reading = { takenAt: Date.now(), temperatureC: 22.22, humidityPct: 44.44 };
    await device.publishTelemetry(device.seal(0, [reading]), 0);
    await eventually(async () => expect((await allReadings(device.identity.deviceId)).map(({ takenAt, temperatureC, humidityPct }) => ({ takenAt, temperatureC, humidityPct }))).toEqual([reading]));
  });

  it('shows a telemetry reader ciphertext only: no reading bytes, values or field names', async () => {
    const device = await probe('plaintext');
    await device.keyExchange();
    const readings = Array.from({ length: 20 }, (_, i) => ({ takenAt: Date.now() + i, temperatureC: 23.45 + i / 100, humidityPct: 41.5 }));
    const topic = `devices/${device.identity.deviceId}/telemetry`;
    for (const [seq, reading] of readings.entries()) await device.publishTelemetry(device.seal(seq, [reading]));
    await eventually(() => expect(observed.filter((o) => o.topic === topic)).toHaveLength(readings.length));
    const bytes = Buffer.concat(observed.map((o) => o.payload));
    const text = bytes.toString('latin1');
    for (const word of ['temperature', 'humidity', 'takenAt']) expect(text).not.toContain(word);
    for (const r of readings) {
      expect(bytes.includes(encodeReadings([r]).subarray(1))).toBe(false);
      expect(text).not.toContain(r.temperatureC.toFixed(2));
    }
  });
});

describe('connections the broker refuses', () => {
  it('plain MQTT on the TLS port', async () => {
    const answered = await new Promise<boolean>((resolve) => {
      const socket = plainConnect(broker.port, broker.host, () => {
        // MQTT 3.1.1 CONNECT, client id "x": a TLS-only listener must not answer with CONNACK.
        socket.write(Buffer.from([0x10, 0x0d, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x3c, 0x00, 0x01, 0x78]));
      });
      socket.on('data', (data) => resolve(data[0] === 0x20));
      socket.on('close', () => resolve(false));
      socket.on('error', () => resolve(false));
      setTimeout(() => {
        socket.destroy();
        resolve(false);
      }, 3_000);
    });
    expect(answered).toBe(false);
  });

  it('TLS 1.0 and 1.1, while TLS 1.2 and 1.3 complete', async () => {
    const credential = await ca.issue({ commonName: probeId('tls'), usage: 'client' });
    await expect(tlsHandshake(broker, credential, 'TLSv1')).rejects.toThrow();
    await expect(tlsHandshake(broker, credential, 'TLSv1.1')).rejects.toThrow();
    await expect(tlsHandshake(broker, credential, 'TLSv1.3')).resolves.toBe('TLSv1.3');
    // A stack may require TLS 1.3; then 1.2 is refused too, which the suite accepts.
    await tlsHandshake(broker, credential, 'TLSv1.2').then(
      (protocol) => expect(protocol).toBe('TLSv1.2'),
      (error: Error) => expect(error.message).toMatch(/version|alert/i),
    );
  });

  it('no client certificate, another CA, an expired certificate, a certificate without client-auth', async () => {
    const now = Date.now();
    const attempts: [string, Partial<Credential>][] = [
      ['no certificate', {}],
      ['rogue CA', await rogueCa.issue({ commonName: probeId('rogue'), usage: 'client' })],
      ['expired', await ca.issue({ commonName: probeId('expired'), usage: 'client', notBefore: new Date(now - 2 * 86_400_000), notAfter: new Date(now - 86_400_000) })],
      ['no client-auth', await ca.issue({ commonName: probeId('server-only'), usage: 'client-without-client-auth' })],
    ];
    for (const [what, credential] of attempts) {
      await expect(connectAs(broker, credential, `${run}-${what.replace(/\W/g, '-')}`), what).rejects.toThrow();
    }
  });
});

describe('access control', () => {
  it('a device can publish neither on another device topic nor on control topics', async () => {
    const device = await probe('acl');
    const victim = endpoints.fleetDeviceIds[0]!;
    await expect(device.client.publishAsync(`devices/${victim}/telemetry`, Buffer.from('forged'), { qos: 1 })).rejects.toThrow(/Not authorized/);
    await expect(device.client.publishAsync(`devices/${victim}/kex`, Buffer.from('forged'), { qos: 1 })).rejects.toThrow(/Not authorized/);
    await expect(device.client.publishAsync(`devices/${device.identity.deviceId}/control`, Buffer.from('{}'), { qos: 1 })).rejects.toThrow(/Not authorized/);
  });

  it('a "#" subscription is accepted but delivers no other device traffic', async () => {
    const device = await probe('wildcard');
    const seen: string[] = [];
    device.client.on('message', (topic) => seen.push(topic));
    await device.client.subscribeAsync('#', { qos: 1 });
    const before = observed.length;
    await eventually(() => expect(observed.length).toBeGreaterThan(before + 3), 30_000);
    expect(seen.filter((t) => t.startsWith('devices/') && !t.startsWith(`devices/${device.identity.deviceId}/`))).toEqual([]);
  }, 40_000);
});

describe('messages the service refuses and counts', () => {
  it('a replayed envelope from behind the window (replay) and one repeated at once (duplicate)', async () => {
    const device = await probe('replay');
    await device.keyExchange();
    const first = device.seal(0, [{ takenAt: Date.now(), temperatureC: 20, humidityPct: 50 }]);
    await device.publishTelemetry(first);
    let last = first;
    for (let seq = 1; seq <= endpoints.replayWindow + 1; seq++) {
      last = device.seal(seq, [{ takenAt: Date.now() + seq, temperatureC: 20, humidityPct: 50 }]);
      void device.publishTelemetry(last);
    }
    await eventually(async () => expect((await allReadings(device.identity.deviceId)).length).toBe(endpoints.replayWindow + 2), 30_000);
    const replays = await rejections('replay');
    await device.publishTelemetry(first);
    await eventually(async () => expect(await rejections('replay')).toBe(replays + 1));
    const duplicates = await api.metric('smqtt_duplicates_total');
    await device.publishTelemetry(last);
    await eventually(async () => expect(await api.metric('smqtt_duplicates_total')).toBe(duplicates + 1));
    expect((await allReadings(device.identity.deviceId)).length).toBe(endpoints.replayWindow + 2);
  }, 60_000);

  it('a tampered envelope (bad-tag)', async () => {
    const device = await probe('tamper');
    await device.keyExchange();
    const tampered = device.seal(0, [{ takenAt: Date.now(), temperatureC: 20, humidityPct: 50 }]);
    tampered[tampered.length - 20]! ^= 0x01;
    const before = await rejections('bad-tag');
    await device.publishTelemetry(tampered);
    await eventually(async () => expect(await rejections('bad-tag')).toBe(before + 1));
    expect(await allReadings(device.identity.deviceId)).toEqual([]);
  });

  it('forged key exchanges: signed by another key (bad-signature), another device certificate (identity-mismatch)', async () => {
    const device = await probe('forger');
    const other = await ca.issue({ commonName: probeId('other'), usage: 'client' });
    const stranger = identityFrom(probeId('other'), other);
    const badSignatures = await rejections('bad-signature');
    await expect(device.keyExchange({ ...device.identity, privateKey: stranger.privateKey }, 2_000)).rejects.toThrow(/no kex-ack/);
    expect(await rejections('bad-signature')).toBe(badSignatures + 1);
    const mismatches = await rejections('identity-mismatch');
    await expect(device.keyExchange({ ...stranger, deviceId: device.identity.deviceId }, 2_000)).rejects.toThrow(/no kex-ack/);
    expect(await rejections('identity-mismatch')).toBe(mismatches + 1);
  }, 30_000);

  it('a payload over the size limit is refused and the fleet keeps being served', async () => {
    const device = await probe('oversize');
    const stored = async () => (await Promise.all(endpoints.fleetDeviceIds.map(allReadings))).reduce((n, rows) => n + rows.length, 0);
    const before = await stored();
    const oversize = Buffer.alloc(endpoints.messageSizeLimit + 1, 0x41);
    // Refused means no success acknowledgement: Mosquitto 2.0 answers with an error reason code that
    // mqtt.js reports as an error event (and drops the connection), or the publish fails outright.
    const outcome = await new Promise<string>((resolve) => {
      device.client.once('error', (error) => resolve(`refused: ${error.message}`));
      device.client.once('close', () => resolve('refused: connection closed'));
      device.client.publishAsync(`devices/${device.identity.deviceId}/telemetry`, oversize, { qos: 1 }).then(
        () => resolve('accepted'),
        (error: Error) => resolve(`refused: ${error.message}`),
      );
    });
    expect(outcome).toMatch(/^refused/);
    expect(await allReadings(device.identity.deviceId)).toEqual([]);
    await eventually(async () => expect(await stored()).toBeGreaterThan(before + endpoints.fleetDeviceIds.length), 60_000, 1_000);
  }, 90_000);
});
