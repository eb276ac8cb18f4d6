import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import mqtt, { type MqttClient } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalBroker } from '../../local/local-broker.js';
import { freePort } from '../../local/ports.js';
import { CertificateAuthority, type Credential } from '../../local/throwaway-pki.js';
import { connectAs, eventually, type BrokerAddress } from '../support/stack-clients.js';

/**
 * The broker limits the stack config sets, each shown to hold on real Mosquitto with the rendered
 * configuration: max_connections, max_inflight_messages and max_queued_messages (message_size_limit
 * is shown end to end in test/e2e). Small values here so each limit is reached in milliseconds.
 */
const LIMITS = { maxConnections: 4, maxInflightMessages: 3, maxQueuedMessages: 5, messageSizeLimit: 16_384 };
const SERVICE = 'key-service.svc';

let broker: LocalBroker;
let address: BrokerAddress;
let ca: CertificateAuthority;
const clients: MqttClient[] = [];

async function identity(commonName: string): Promise<Credential> {
  return ca.issue({ commonName, usage: 'client' });
}

async function connect(credential: Credential, clientId: string): Promise<MqttClient> {
  const client = await connectAs(address, credential, clientId);
  clients.push(client);
  return client;
}

/**
 * A subscriber that acknowledges only when told: raw MQTT 5 packets over TLS (mqtt-packet), since
 * mqtt.js reads the next packet only after acknowledging the previous one.
 */
async function rawSubscriber(credential: Credential, clientId: string, topic: string) {
  const socket = tlsConnect({ host: address.host, port: address.port, ca: address.caPem, cert: credential.certPem, key: credential.keyPem });
  const parser = mqttPacket.parser({ protocolVersion: 5 });
  const unacked: number[] = [];
  let received = 0;
  let subscribed: () => void;
  const ready = new Promise<void>((resolve) => (subscribed = resolve));
  parser.on('packet', (packet) => {
    if (packet.cmd === 'connack') socket.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 1 }] }, { protocolVersion: 5 }));
    if (packet.cmd === 'suback') subscribed();
    if (packet.cmd === 'publish') {
      received++;
      unacked.push(packet.messageId!);
    }
  });
  socket.on('data', (data) => parser.parse(data));
  socket.once('secureConnect', () =>
    socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, clientId, keepalive: 60 }, { protocolVersion: 5 })),
  );
  await ready;
  return {
    received: () => received,
    ackAll: () => {
      for (const messageId of unacked.splice(0)) socket.write(mqttPacket.generate({ cmd: 'puback', messageId }, { protocolVersion: 5 }));
    },
    close: () => socket.destroy(),
  };
}

beforeAll(async () => {
  ca = await CertificateAuthority.create('limits-test-ca');
  const port = await freePort();
  broker = await LocalBroker.start({
    dir: mkdtempSync(join(tmpdir(), 'smqtt-limits-')),
    port,
    caCertPem: ca.certPem,
    server: await ca.issue({ commonName: 'localhost', usage: 'server', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] }),
    acl: { serviceIdentity: SERVICE, telemetryReaders: [] },
    limits: LIMITS,
  });
  address = { host: '127.0.0.1', port, caPem: ca.certPem };
}, 30_000);

afterAll(async () => {
  for (const client of clients) client.end(true);
  await broker?.stop();
});

describe('broker limits from stack config hold on real Mosquitto', () => {
  it(`max_connections ${LIMITS.maxConnections}: one more connection is refused until one closes`, async () => {
    // The broker was started without probing its port: a connection closed before TLS would leave
    // Mosquitto's client count one too low (eclipse-mosquitto/mosquitto#1460) and admit a fifth.
    const open: MqttClient[] = [];
    try {
      for (let i = 0; i < LIMITS.maxConnections; i++) open.push(await connect(await identity(`sensor-00${i}`), `conn-${i}`));
      const extra = await identity('sensor-extra');
      await expect(connectAs(address, extra, 'conn-extra')).rejects.toThrow();
      await open.pop()!.endAsync();
      const admitted = await eventually(() => connect(extra, 'conn-extra'), 5_000);
      open.push(admitted); // connect() resolves only on CONNACK success: admitted once a slot is free
    } finally {
      // Whatever happened, free the slots for the next tests.
      await Promise.all(open.map((client) => client.endAsync()));
    }
  });

  it(`max_inflight_messages ${LIMITS.maxInflightMessages}: unacknowledged QoS 1 deliveries stop there; the queue holds the next ${LIMITS.maxQueuedMessages}`, async () => {
    const subscriber = await rawSubscriber(await identity(SERVICE), 'inflight-subscriber', 'devices/+/telemetry');
    const device = await connect(await identity('sensor-inflight'), 'inflight-publisher');
    const total = LIMITS.maxInflightMessages + LIMITS.maxQueuedMessages + 2; // two more than window and queue hold
    await Promise.all(Array.from({ length: total }, (_, i) => device.publishAsync('devices/sensor-inflight/telemetry', Buffer.from([i]), { qos: 1 })));
    await eventually(() => expect(subscriber.received()).toBe(LIMITS.maxInflightMessages), 5_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(subscriber.received()).toBe(LIMITS.maxInflightMessages); // still: nothing beyond the window without acks
    // Acknowledging lets the queued ones through. A slow subscriber gets the window plus the queue
    // (max_queued_messages); what arrived beyond both while it did not acknowledge was dropped.
    await eventually(() => {
      subscriber.ackAll();
      expect(subscriber.received()).toBe(LIMITS.maxInflightMessages + LIMITS.maxQueuedMessages);
    }, 5_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    subscriber.ackAll();
    expect(subscriber.received()).toBe(LIMITS.maxInflightMessages + LIMITS.maxQueuedMessages);
    subscriber.close();
    await device.endAsync();
  });

  it(`max_queued_messages ${LIMITS.maxQueuedMessages}: an offline session keeps at most that many, the rest are dropped`, async () => {
    const credential = await identity(SERVICE);
    const persistent = () =>
      mqtt.connectAsync(`mqtts://127.0.0.1:${address.port}`, {
        clientId: 'queue-subscriber',
        protocolVersion: 5,
        clean: false,
        properties: { sessionExpiryInterval: 300 },
        ca: address.caPem,
        cert: credential.certPem,
        key: credential.keyPem,
        reconnectPeriod: 0,
      });
    const first = await persistent();
    await first.subscribeAsync('devices/+/telemetry', { qos: 1 });
    await first.endAsync();

    const device = await connect(await identity('sensor-queue'), 'queue-publisher');
    const total = 20;
    for (let i = 0; i < total; i++) await device.publishAsync('devices/sensor-queue/telemetry', Buffer.from([i]), { qos: 1 });

    const received: number[] = [];
    const again = await persistent();
    clients.push(again);
    again.on('message', (_topic, payload) => received.push(payload[0]!));
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(received.length).toBe(LIMITS.maxQueuedMessages);
    expect(received).toEqual(received.slice().sort((a, b) => a - b)); // the oldest are kept, in order
    expect(received[0]).toBe(0);
    await again.endAsync();
    await device.endAsync();
  });
});
