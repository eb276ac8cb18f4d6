import { createECDH } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { openEnvelope, sealEnvelope } from '../../protocol/envelope.js';
import { decodeReadings, encodeReadings } from '../../protocol/readings.js';
import { deriveSessionKeys, isValidKeyConfirmation, keyConfirmation } from '../../protocol/session-keys.js';

// Vectors computed by test/protocol/vectors/generate-vectors.py with Python's `cryptography`,
// independently of the TypeScript implementation.
const vectors = JSON.parse(readFileSync(new URL('./vectors/vectors.json', import.meta.url), 'utf8'));
const hex = (s: string) => Buffer.from(s, 'hex');

describe('known-answer vectors', () => {
  it('seals the reference envelope byte for byte and opens it', () => {
    const v = vectors.envelope;
    const header = { keyId: v.keyId, seq: v.seq, sentAt: v.sentAt };
    expect(sealEnvelope(hex(v.key), v.deviceId, header, hex(v.plaintext)).toString('hex')).toBe(v.envelope);
    const opened = openEnvelope(hex(v.key), v.deviceId, hex(v.envelope));
    expect(opened.plaintext.toString('hex')).toBe(v.plaintext);
    expect(decodeReadings(opened.plaintext)).toEqual([{ takenAt: 1700000000000, temperatureC: 21.37, humidityPct: 45.5 }]);
  });

  it('encodes the reference reading batch', () => {
    expect(encodeReadings([{ takenAt: 1700000000000, temperatureC: 21.37, humidityPct: 45.5 }]).toString('hex')).toBe(
      vectors.envelope.plaintext,
    );
  });

  it('derives the reference session keys and key confirmation', () => {
    const v = vectors.sessionKeys;
    const keys = deriveSessionKeys(hex(v.secret), hex(v.nonce), hex(v.transcript));
    expect(keys.encryptionKey.toString('hex')).toBe(v.encryptionKey);
    expect(keys.confirmationKey.toString('hex')).toBe(v.confirmationKey);
    expect(keyConfirmation(keys, v.deviceId, v.keyId).toString('hex')).toBe(v.confirmation);
    expect(isValidKeyConfirmation(keys, v.deviceId, v.keyId, hex(v.confirmation))).toBe(true);
    expect(isValidKeyConfirmation(keys, v.deviceId, v.keyId + 1, hex(v.confirmation))).toBe(false);
  });

  it('computes the reference P-256 shared secret from the device point', () => {
    const v = vectors.ecdh;
    const service = createECDH('prime256v1');
    service.setPrivateKey(hex(v.servicePrivate));
    expect(service.computeSecret(hex(v.devicePoint)).toString('hex')).toBe(v.shared);
  });
});
