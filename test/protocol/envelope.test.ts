import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ENVELOPE_HEADER_BYTES, MAX_SEQ, openEnvelope, readEnvelopeHeader, sealEnvelope } from '../../protocol/envelope.js';
import { ProtocolError } from '../../protocol/errors.js';
import { decodeReadings, encodeReadings, type Reading } from '../../protocol/readings.js';

const key = randomBytes(32);
const reading: Reading = { takenAt: 1_764_000_000_000, temperatureC: 21.37, humidityPct: 45.5 };
const header = { keyId: 0xdeadbeef, seq: 41, sentAt: 1_764_000_000_500 };
const sealed = () => sealEnvelope(key, 'sensor-001', header, encodeReadings([reading]));

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    if (error instanceof ProtocolError) return error.code;
    throw error;
  }
  return undefined;
}

describe('telemetry envelope', () => {
  it('round-trips header and readings', () => {
    const opened = openEnvelope(key, 'sensor-001', sealed());
    expect(opened).toMatchObject(header);
    expect(decodeReadings(opened.plaintext)).toEqual([reading]);
  });

  it('is compact: 16-byte header, 16-byte tag, 10 bytes per reading plus a count', () => {
    expect(sealed().length).toBe(ENVELOPE_HEADER_BYTES + 1 + 10 + 16);
  });

  it('refuses every single-bit flip: in the header, ciphertext or tag', () => {
    const envelope = sealed();
    for (let bit = 0; bit < envelope.length * 8; bit++) {
      const tampered = Buffer.from(envelope);
      tampered[bit >> 3]! ^= 1 << (bit & 7);
      const code = codeOf(() => openEnvelope(key, 'sensor-001', tampered));
      expect(bit < 8 ? ['unsupported-version'] : bit < 16 ? ['malformed'] : ['bad-tag']).toContain(code);
    }
  });

  it('binds the device id: the same bytes under another device id do not open', () => {
    expect(codeOf(() => openEnvelope(key, 'sensor-002', sealed()))).toBe('bad-tag');
  });

  it('refuses under a different key', () => {
    expect(codeOf(() => openEnvelope(randomBytes(32), 'sensor-001', sealed()))).toBe('bad-tag');
  });

  it('uses a distinct nonce per sequence number: equal plaintexts give different ciphertexts', () => {
    const plaintext = encodeReadings([reading]);
    const a = sealEnvelope(key, 'sensor-001', { ...header, seq: 1 }, plaintext);
    const b = sealEnvelope(key, 'sensor-001', { ...header, seq: 2 }, plaintext);
    expect(a.subarray(ENVELOPE_HEADER_BYTES).equals(b.subarray(ENVELOPE_HEADER_BYTES))).toBe(false);
  });

  it('refuses to seal past the last sequence number instead of reusing a nonce', () => {
    expect(() => sealEnvelope(key, 'sensor-001', { ...header, seq: MAX_SEQ + 1 }, Buffer.from([1]))).toThrow(RangeError);
  });

  it('refuses truncated envelopes and foreign versions', () => {
    const envelope = sealed();
    expect(codeOf(() => readEnvelopeHeader(envelope.subarray(0, 20)))).toBe('malformed');
    expect(codeOf(() => readEnvelopeHeader(Buffer.alloc(0)))).toBe('malformed');
    const v2 = Buffer.from(envelope);
    v2[0] = 2;
    expect(codeOf(() => readEnvelopeHeader(v2))).toBe('unsupported-version');
  });

  it('round-trips any batch of in-range readings exactly', () => {
    const arbitraryReading = fc.record({
      takenAt: fc.integer({ min: 0, max: 2 ** 48 - 1 }),
      temperatureC: fc.integer({ min: -4000, max: 12500 }).map((c) => c / 100),
      humidityPct: fc.integer({ min: 0, max: 10000 }).map((c) => c / 100),
    });
    fc.assert(
      fc.property(fc.array(arbitraryReading, { minLength: 1, maxLength: 255 }), fc.nat(MAX_SEQ), (readings, seq) => {
        const envelope = sealEnvelope(key, 'sensor-001', { ...header, seq }, encodeReadings(readings));
        expect(decodeReadings(openEnvelope(key, 'sensor-001', envelope).plaintext)).toEqual(readings);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses readings outside the sensor range, and batches of the wrong size', () => {
    expect(codeOf(() => encodeReadings([{ ...reading, temperatureC: 126 }]))).toBe('invalid-reading');
    expect(codeOf(() => encodeReadings([{ ...reading, humidityPct: -0.01 }]))).toBe('invalid-reading');
    expect(codeOf(() => encodeReadings([{ ...reading, temperatureC: Number.NaN }]))).toBe('invalid-reading');
    expect(codeOf(() => encodeReadings([]))).toBe('invalid-reading');
    const bytes = encodeReadings([reading]);
    bytes.writeUInt16BE(10001, 9); // humidity 100.01 %
    expect(codeOf(() => decodeReadings(bytes))).toBe('invalid-reading');
    expect(codeOf(() => decodeReadings(bytes.subarray(0, 5)))).toBe('malformed');
  });
});
