import { EventEmitter } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { IPublishPacket, MqttClient } from 'mqtt';
import { describe, expect, it } from 'vitest';
import { AckAfterCommit, type Processed } from '../../services/key-service/ack-after-commit.js';
import { ReadingsStore, type StoredReading } from '../../services/key-service/readings-store.js';

/**
 * The grouping logic against real SQLite. The MQTT side is the narrow surface AckAfterCommit uses
 * (handleMessage, publish, the internal _sendPacket for PUBACKs, `close`), recorded in order, with
 * what another database connection can see at each step; the real client and broker are covered by
 * test/integration.
 */
function harness() {
  const dbPath = join(mkdtempSync(join(tmpdir(), 'smqtt-ack-')), 'service.db');
  const store = new ReadingsStore(dbPath);
  const reader = new Database(dbPath, { readonly: true });
  const committedRows = () => (reader.prepare('SELECT count(*) AS n FROM readings').get() as { n: number }).n;
  const committedNonces = () => (reader.prepare('SELECT count(*) AS n FROM kex_nonces').get() as { n: number }).n;
  const events: string[] = [];
  const client = Object.assign(new EventEmitter(), {
    connected: true,
    handleMessage: undefined as unknown as MqttClient['handleMessage'],
    publish: (topic: string) => events.push(`publish ${topic} (nonces committed: ${committedNonces()})`),
    _sendPacket: (packet: { messageId: number }) => events.push(`puback ${packet.messageId} (rows committed: ${committedRows()})`),
  });
  const failures: unknown[] = [];
  let stored = 0;
  const acks = new AckAfterCommit(client as unknown as MqttClient, store.group, (n) => (stored += n), (e) => failures.push(e));
  const deliver = (messageId: number, topic: string) =>
    new Promise<void>((resolve) => client.handleMessage({ cmd: 'publish', qos: 1, messageId, topic, payload: Buffer.alloc(0), dup: false, retain: false } as IPublishPacket, () => resolve()));
  return { store, events, failures, acks, deliver, committedRows, committedNonces, stored: () => stored };
}

/** A key exchange as the handler makes it: a nonce written into the open group, and an acknowledgement to send. */
function keyExchange(store: ReadingsStore, nonceByte: number): Processed {
  store.rememberNonce('sensor-002', Buffer.alloc(16, nonceByte), Date.now() + 60_000);
  return { replies: [{ topic: 'devices/sensor-002/control', payload: Buffer.from('ack') }] };
}

const row = (seq: number): StoredReading => ({ deviceId: 'sensor-001', keyId: 1, seq, index: 0, takenAt: 1_764_000_000_000 + seq, temperatureC: 20, humidityPct: 50, receivedAt: 1 });

describe('acknowledge after commit', () => {
  it('groups one read in one transaction: a key exchange and readings commit together before any PUBACK or reply', async () => {
    const h = harness();
    h.acks.attach((topic): Processed => {
      if (topic.endsWith('/kex')) return keyExchange(h.store, 1);
      return { rows: [row(Number(topic.split('/').pop()))] };
    });
    await h.deliver(1, 'devices/sensor-001/telemetry/1');
    await h.deliver(2, 'devices/sensor-002/kex');
    await h.deliver(3, 'devices/sensor-001/telemetry/3');
    // Nothing is visible, acknowledged or answered until the group commits after this read.
    expect(h.committedRows()).toBe(0);
    expect(h.committedNonces()).toBe(0);
    expect(h.events).toEqual([]);
    await new Promise((r) => setImmediate(r));
    expect(h.events).toEqual([
      'publish devices/sensor-002/control (nonces committed: 1)',
      'puback 1 (rows committed: 2)',
      'puback 2 (rows committed: 2)',
      'puback 3 (rows committed: 2)',
    ]);
    expect(h.stored()).toBe(2);
  });

  it('keeps nothing of a group whose storage fails: no rows, no nonce, no PUBACK, no reply, and reports it', async () => {
    const h = harness();
    const failure = new Error('disk I/O error');
    h.acks.attach((topic): Processed => {
      if (topic.endsWith('/kex')) return keyExchange(h.store, 2);
      if (topic.endsWith('/fail')) throw failure;
      return { rows: [row(1)] };
    });
    await h.deliver(1, 'devices/sensor-002/kex');
    await h.deliver(2, 'devices/sensor-001/telemetry');
    await h.deliver(3, 'devices/sensor-001/fail');
    await new Promise((r) => setImmediate(r));
    expect(h.failures).toEqual([failure]);
    expect(h.events).toEqual([]);
    expect(h.committedRows()).toBe(0);
    expect(h.committedNonces()).toBe(0);
    // The next group starts clean.
    await h.deliver(4, 'devices/sensor-001/telemetry');
    await new Promise((r) => setImmediate(r));
    expect(h.events).toEqual(['puback 4 (rows committed: 1)']);
  });

  it('rolls back a group whose commit fails, and the next group commits normally', async () => {
    const h = harness();
    h.acks.attach((topic): Processed => {
      if (topic.endsWith('/kex')) return keyExchange(h.store, 3);
      // A value SQLite cannot bind makes the insert at commit time throw.
      if (topic.endsWith('/unbindable')) return { rows: [{ ...row(9), temperatureC: {} as unknown as number }] };
      return { rows: [row(Number(topic.split('/').pop()))] };
    });
    await h.deliver(1, 'devices/sensor-002/kex');
    await h.deliver(2, 'devices/sensor-001/unbindable');
    await new Promise((r) => setImmediate(r));
    expect(h.failures).toHaveLength(1);
    expect(h.events).toEqual([]);
    expect(h.committedNonces()).toBe(0);
    await h.deliver(3, 'devices/sensor-001/telemetry/3');
    await new Promise((r) => setImmediate(r));
    expect(h.failures).toHaveLength(1);
    expect(h.events).toEqual(['puback 3 (rows committed: 1)']);
  });
});
