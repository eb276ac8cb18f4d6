import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { decodeControlMessage } from '../../protocol/control.js';
import { sealEnvelope } from '../../protocol/envelope.js';
import { REFUSAL_CODES } from '../../protocol/errors.js';
import { createKexRequest, DEFAULT_KEX_POLICY, type DeviceIdentity } from '../../protocol/kex.js';
import { encodeReadings, type Reading } from '../../protocol/readings.js';
import { isValidKeyConfirmation, type SessionKeys } from '../../protocol/session-keys.js';
import { MessageHandler, type HandleResult } from '../../services/key-service/message-handler.js';
import { ServiceMetrics, sampleValue } from '../../services/key-service/metrics.js';
import { ReadingsStore } from '../../services/key-service/readings-store.js';
import { SessionRegistry } from '../../services/key-service/session-registry.js';
import { SessionVault } from '../../services/key-service/session-vault.js';
import { CertificateAuthority } from '../../local/throwaway-pki.js';
import { normalizeSerial } from '../../revocation/serial-number.js';
import { deviceIdentity, identityFrom, protocolFixture, type ProtocolFixture } from '../support/fixtures.js';

const WINDOW = 32;
const GRACE_MS = 60_000;
let f: ProtocolFixture;
let device: DeviceIdentity;
let rogue: CertificateAuthority;

beforeAll(async () => {
  f = await protocolFixture();
  device = await deviceIdentity(f.ca, 'sensor-001');
  rogue = await CertificateAuthority.create('rogue');
});

/** A handler over a real SQLite file, as the service builds it; `reopen` simulates a restart. */
function service(dbPath = join(mkdtempSync(join(tmpdir(), 'smqtt-handler-')), 'service.db')) {
  const store = new ReadingsStore(dbPath);
  const registry = new SessionRegistry(store, new SessionVault(Buffer.alloc(32, 9)), { graceMs: GRACE_MS, replayWindow: WINDOW });
  registry.load(Date.now());
  const metrics = new ServiceMetrics();
  const handler = new MessageHandler({ trust: f.trust, serviceKeys: f.serviceKeys, store, registry, metrics, kexPolicy: DEFAULT_KEX_POLICY });
  /** Handles a message in its own group transaction and commits it, as the MQTT layer does before acknowledging. */
  const handle = (topic: string, payload: Buffer, now = Date.now()): HandleResult => {
    store.group.begin();
    const result = handler.handle(topic, payload, now);
    metrics.readingsStored += store.group.commit(result.kind === 'accepted' ? result.readings : []);
    return result;
  };
  return { store, registry, metrics, handle, dbPath, reopen: () => (store.close(), service(dbPath)) };
}

function exchange(s: ReturnType<typeof service>, identity = device, keyId = 1, now = Date.now()): SessionKeys {
  const request = createKexRequest({ identity, service: f.ecService, scheme: 'ecdhP256', keyId, now });
  const result = s.handle(`devices/${identity.deviceId}/kex`, request.message, now);
  if (result.kind !== 'key-exchange') throw new Error(`exchange refused: ${JSON.stringify(result)}`);
  const ack = decodeControlMessage(result.reply.payload);
  expect(ack.type === 'kex-ack' && isValidKeyConfirmation(request.keys, identity.deviceId, keyId, Buffer.from(ack.confirmation, 'base64'))).toBe(true);
  return request.keys;
}

const reading = (i: number): Reading => ({ takenAt: 1_764_000_000_000 + i, temperatureC: 20 + i / 100, humidityPct: 50 });
const envelope = (keys: SessionKeys, keyId: number, seq: number, readings = [reading(seq)], deviceId = 'sensor-001') =>
  sealEnvelope(keys.encryptionKey, deviceId, { keyId, seq, sentAt: Date.now() }, encodeReadings(readings));

describe('message handler', () => {
  let s: ReturnType<typeof service>;
  beforeEach(() => {
    s = service();
  });

  it('installs a session, acknowledges it with a key confirmation, and stores decrypted readings', () => {
    const keys = exchange(s);
    const result = s.handle('devices/sensor-001/telemetry', envelope(keys, 1, 0, [reading(1), reading(2)]));
    expect(result.kind).toBe('accepted');
    expect(s.store.readings({ deviceId: 'sensor-001', limit: 10 }).map(({ takenAt, temperatureC, humidityPct }) => ({ takenAt, temperatureC, humidityPct }))).toEqual([
      reading(1),
      reading(2),
    ]);
    expect(sampleValue(s.metrics.render(), 'smqtt_key_exchanges_total{scheme="ecdhP256"}')).toBe(1);
    expect(sampleValue(s.metrics.render(), 'smqtt_readings_stored_total')).toBe(2);
  });

  it('keeps the database and its WAL files readable by the owner only, whatever the umask', () => {
    const previous = process.umask(0o022);
    try {
      const fresh = service();
      const keys = exchange(fresh);
      fresh.handle('devices/sensor-001/telemetry', envelope(keys, 1, 0));
      for (const file of [fresh.dbPath, `${fresh.dbPath}-wal`, `${fresh.dbPath}-shm`]) {
        expect(existsSync(file), file).toBe(true);
        expect(statSync(file).mode & 0o777, file).toBe(0o600);
      }
    } finally {
      process.umask(previous);
    }
  });

  it('counts a redelivered envelope as a duplicate and stores it once', () => {
    const keys = exchange(s);
    const sealed = envelope(keys, 1, 0);
    expect(s.handle('devices/sensor-001/telemetry', sealed).kind).toBe('accepted');
    expect(s.handle('devices/sensor-001/telemetry', sealed).kind).toBe('duplicate');
    expect(s.store.readings({ limit: 10 })).toHaveLength(1);
    expect(s.metrics.duplicates).toBe(1);
  });

  it('refuses an envelope replayed from behind the window as replay', () => {
    const keys = exchange(s);
    const first = envelope(keys, 1, 0);
    s.handle('devices/sensor-001/telemetry', first);
    for (let seq = 1; seq <= WINDOW; seq++) s.handle('devices/sensor-001/telemetry', envelope(keys, 1, seq));
    expect(s.handle('devices/sensor-001/telemetry', first)).toMatchObject({ kind: 'rejected', code: 'replay' });
  });

  it('answers an unknown key id with a re-key request, at most once per interval', () => {
    const keys = exchange(s);
    const result = s.handle('devices/sensor-001/telemetry', envelope(keys, 99, 0));
    expect(result).toMatchObject({ kind: 'rejected', code: 'unknown-session' });
    expect(result.kind === 'rejected' && result.reply && decodeControlMessage(result.reply.payload)).toEqual({ type: 'rekey', reason: 'unknown-session' });
    const again = s.handle('devices/sensor-001/telemetry', envelope(keys, 99, 1));
    expect(again.kind === 'rejected' && again.reply).toBeFalsy();
  });

  it('uses up the nonce of an exchange refused after its signature verified, so it cannot be replayed later', () => {
    const now = Date.now();
    exchange(s, device, 7, now);
    // Same key id again: signature and nonce pass, the session install refuses it.
    const reused = createKexRequest({ identity: device, service: f.ecService, scheme: 'ecdhP256', keyId: 7, now });
    expect(s.handle('devices/sensor-001/kex', reused.message, now)).toMatchObject({ kind: 'rejected', code: 'replay' });
    // Once key id 7 is free (two rotations drop it), the captured message is still refused.
    exchange(s, device, 8, now);
    exchange(s, device, 9, now);
    const later = now + 1;
    expect(s.registry.find('sensor-001', 7, later)).toBeUndefined();
    expect(s.handle('devices/sensor-001/kex', reused.message, later)).toMatchObject({ kind: 'rejected', code: 'replay' });
    expect(s.registry.find('sensor-001', 7, later)).toBeUndefined();
  });

  it('keeps the previous key for the grace period after a rotation, then forgets it', () => {
    const now = Date.now();
    const oldKeys = exchange(s, device, 1, now);
    exchange(s, device, 2, now);
    expect(s.handle('devices/sensor-001/telemetry', envelope(oldKeys, 1, 0), now + GRACE_MS - 1).kind).toBe('accepted');
    expect(s.handle('devices/sensor-001/telemetry', envelope(oldKeys, 1, 1), now + GRACE_MS + 1)).toMatchObject({ code: 'unknown-session' });
  });

  it('survives a restart: sessions reload from the sealed store and the replay window is rebuilt', () => {
    const keys = exchange(s);
    const sent = [0, 1, 2].map((seq) => envelope(keys, 1, seq));
    for (const e of sent) s.handle('devices/sensor-001/telemetry', e);
    const restarted = s.reopen();
    expect(restarted.handle('devices/sensor-001/telemetry', sent[1]!).kind).toBe('duplicate');
    expect(restarted.handle('devices/sensor-001/telemetry', envelope(keys, 1, 3)).kind).toBe('accepted');
    expect(restarted.store.readings({ limit: 10 })).toHaveLength(4);
  });

  it('does not restore sessions sealed under another service key', () => {
    const keys = exchange(s);
    s.store.close();
    const store = new ReadingsStore(s.dbPath);
    const registry = new SessionRegistry(store, new SessionVault(Buffer.alloc(32, 1)), { graceMs: GRACE_MS, replayWindow: WINDOW });
    expect(registry.load(Date.now())).toEqual({ loaded: 0, unreadable: 1 });
    expect(registry.find('sensor-001', 1, Date.now())).toBeUndefined();
    void keys;
  });

  it('reaches and counts every refusal code', async () => {
    const keys = exchange(s);
    const telemetry = (payload: Buffer) => s.handle('devices/sensor-001/telemetry', payload);
    const kex = (payload: Buffer, topicId = 'sensor-001') => s.handle(`devices/${topicId}/kex`, payload);
    const request = (identity: DeviceIdentity, overrides: { now?: number; keyId?: number } = {}) =>
      createKexRequest({ identity, service: f.ecService, scheme: 'ecdhP256', keyId: overrides.keyId ?? 50, now: overrides.now ?? Date.now() }).message;

    const good = envelope(keys, 1, 0);
    const flipped = Buffer.from(good);
    flipped[flipped.length - 20]! ^= 0x01;
    const versionTwo = Buffer.from(good);
    versionTwo[0] = 2;
    const outOfRange = sealEnvelope(keys.encryptionKey, 'sensor-001', { keyId: 1, seq: 5, sentAt: 0 }, Buffer.from('010000000000017fff0000', 'hex'));
    const replayed = request(device, { keyId: 60 });
    const otherDevice = await deviceIdentity(f.ca, 'sensor-002');
    const rogueDevice = identityFrom('sensor-001', await rogue.issue({ commonName: 'sensor-001', usage: 'client' }));
    const wrongKey = await deviceIdentity(f.ca, 'sensor-001');

    const revokedDevice = await deviceIdentity(f.ca, 'sensor-003');
    f.trust.setRevokedSerials(new Set([normalizeSerial(new X509Certificate(revokedDevice.certificateDer).serialNumber)]));
    const revokedOutcome = kex(request(revokedDevice), 'sensor-003'); // revoked-certificate
    f.trust.setRevokedSerials(new Set());

    const outcomes = [
      revokedOutcome,
      s.handle('devices/sensor-001', good), // bad-topic
      telemetry(Buffer.from([1, 2, 3])), // malformed
      telemetry(versionTwo), // unsupported-version
      telemetry(envelope(keys, 7, 0)), // unknown-session
      telemetry(flipped), // bad-tag
      telemetry(outOfRange), // invalid-reading: 327.67 degrees
      kex(request(device, { now: Date.now() - 3_600_000 })), // stale
      kex(replayed),
      kex(replayed), // replay
      kex(request({ ...device, privateKey: wrongKey.privateKey })), // bad-signature
      kex(request(rogueDevice)), // untrusted-certificate
      kex(request({ ...otherDevice, deviceId: 'sensor-001' })), // identity-mismatch
      s.handle('devices/sensor-001/kex', createKexRequest({ identity: device, service: f.rsaService, scheme: 'rsaOaepSha256', keyId: 70, now: Date.now() }).message.fill(0, 29, 61)), // unknown-service-key: fingerprint zeroed
    ];
    const codes = outcomes.flatMap((o) => (o.kind === 'rejected' ? [o.code] : []));
    expect(new Set(codes)).toEqual(new Set(REFUSAL_CODES));
    const text = s.metrics.render();
    for (const code of REFUSAL_CODES) expect(sampleValue(text, `smqtt_rejections_total{code="${code}"}`)).toBeGreaterThanOrEqual(1);
    expect(s.store.readings({ limit: 10 })).toHaveLength(0);
  });
});

describe('revocation in the handler', () => {
  it('ends sessions set up with a revoked certificate (also after a restart) and refuses its new exchanges', async () => {
    const other = await deviceIdentity(f.ca, 'sensor-002');
    let s = service();
    const keys = exchange(s);
    exchange(s, other);
    s = s.reopen(); // the certificate serial is stored with the session
    const serial = new X509Certificate(device.certificateDer).serialNumber;
    const revoked = new Set([normalizeSerial(serial)]);
    try {
      f.trust.setRevokedSerials(revoked);
      expect(s.registry.endSessionsOf(revoked)).toEqual({ sessions: 1, devices: ['sensor-001'] });
      const late = s.handle('devices/sensor-001/telemetry', envelope(keys, 1, 0));
      expect(late.kind === 'rejected' && late.code).toBe('unknown-session');
      const again = createKexRequest({ identity: device, service: f.ecService, scheme: 'ecdhP256', keyId: 2, now: Date.now() });
      const refused = s.handle('devices/sensor-001/kex', again.message);
      expect(refused.kind === 'rejected' && refused.code).toBe('revoked-certificate');
      expect(sampleValue(s.metrics.render(), 'smqtt_rejections_total{code="revoked-certificate"}')).toBe(1);
      // The other device is untouched.
      expect(s.registry.activeDevices).toBe(1);
    } finally {
      f.trust.setRevokedSerials(new Set());
    }
  });

  it('opens a database made before sessions kept their certificate serial, dropping those sessions', () => {
    const dbPath = join(mkdtempSync(join(tmpdir(), 'smqtt-old-db-')), 'service.db');
    const old = new Database(dbPath);
    old.exec(`CREATE TABLE sessions (device_id TEXT NOT NULL, key_id INTEGER NOT NULL, scheme TEXT NOT NULL, sealed_keys BLOB NOT NULL,
      established_at INTEGER NOT NULL, retire_at INTEGER, PRIMARY KEY (device_id, key_id)) WITHOUT ROWID`);
    // Keys sealed under the service's own vault key, so only the migration, not the vault, can drop the row.
    const sealed = new SessionVault(Buffer.alloc(32, 9)).seal({ encryptionKey: Buffer.alloc(32, 1), confirmationKey: Buffer.alloc(32, 2) }, 'sensor-001', 9);
    old.prepare('INSERT INTO sessions VALUES (?, ?, ?, ?, ?, NULL)').run('sensor-001', 9, 'ecdhP256', sealed, Date.now());
    old.close();
    const s = service(dbPath);
    // Revocation could not end a session whose certificate is unknown: it is gone, the device re-keys.
    expect(new Database(dbPath).prepare('SELECT count(*) AS n FROM sessions').get()).toEqual({ n: 0 });
    exchange(s);
    expect(s.reopen().registry.activeDevices).toBe(1);
  });
});
