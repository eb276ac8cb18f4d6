import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeControlMessage } from '../../protocol/control.js';
import { openEnvelope, readEnvelopeHeader, sealEnvelope } from '../../protocol/envelope.js';
import { ProtocolError, REFUSAL_CODES } from '../../protocol/errors.js';
import { acceptKexRequest, createKexRequest, DEFAULT_KEX_POLICY } from '../../protocol/kex.js';
import { decodeReadings, encodeReadings } from '../../protocol/readings.js';
import { decodeServiceCertificates } from '../../protocol/service-certificates.js';
import { parseDeviceTopic } from '../../protocol/topics.js';
import { deviceIdentity, memoryNonces, protocolFixture, type ProtocolFixture } from '../support/fixtures.js';

/** Runs a decoder; anything thrown must be a ProtocolError with a known code. */
function onlyTypedRefusals(decode: () => unknown): void {
  try {
    decode();
  } catch (error) {
    expect(error).toBeInstanceOf(ProtocolError);
    expect(REFUSAL_CODES).toContain((error as ProtocolError).code);
  }
}

/** Arbitrary bytes, and valid messages with arbitrary bytes overwritten, inserted or cut off. */
function mutations(valid: Buffer): fc.Arbitrary<Buffer> {
  const overwrite = fc
    .tuple(fc.nat(valid.length - 1), fc.uint8Array({ minLength: 1, maxLength: 8 }))
    .map(([at, bytes]) => {
      const copy = Buffer.from(valid);
      copy.set(bytes.subarray(0, copy.length - at), at);
      return copy;
    });
  const truncate = fc.nat(valid.length).map((n) => valid.subarray(0, n));
  const extend = fc.uint8Array({ minLength: 1, maxLength: 16 }).map((extra) => Buffer.concat([valid, extra]));
  return fc.oneof(fc.uint8Array({ maxLength: 2048 }).map((b) => Buffer.from(b)), overwrite, truncate, extend);
}

let f: ProtocolFixture;
let validKex: Buffer;
let validEnvelope: Buffer;
const key = Buffer.alloc(32, 7);
beforeAll(async () => {
  f = await protocolFixture();
  const device = await deviceIdentity(f.ca, 'sensor-001');
  validKex = createKexRequest({ identity: device, service: f.ecService, scheme: 'ecdhP256', keyId: 1, now: Date.now() }).message;
  validEnvelope = sealEnvelope(key, 'sensor-001', { keyId: 1, seq: 1, sentAt: Date.now() }, encodeReadings([{ takenAt: 1, temperatureC: 20, humidityPct: 50 }]));
});

// CI-sized by default; `npm run fuzz` runs 100,000 cases per property (FUZZ_RUNS).
const RUNS = { numRuns: Number(process.env.FUZZ_RUNS ?? 2_000) };

describe('decoding untrusted bytes raises typed refusals only', () => {
  it('telemetry envelopes', () => {
    fc.assert(
      fc.property(mutations(validEnvelope), (bytes) => {
        onlyTypedRefusals(() => readEnvelopeHeader(bytes));
        onlyTypedRefusals(() => decodeReadings(openEnvelope(key, 'sensor-001', bytes).plaintext));
      }),
      RUNS,
    );
  });

  it('key-exchange requests, through the whole acceptance path', () => {
    const ctx = { trust: f.trust, serviceKeys: f.serviceKeys, nonces: memoryNonces(), policy: DEFAULT_KEX_POLICY, now: Date.now() };
    fc.assert(fc.property(mutations(validKex), (bytes) => onlyTypedRefusals(() => acceptKexRequest(bytes, 'sensor-001', ctx))), RUNS);
  });

  it('reading batches, control messages, certificate announcements and topics', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.string(), (raw, text) => {
        const bytes = Buffer.from(raw);
        onlyTypedRefusals(() => decodeReadings(bytes));
        onlyTypedRefusals(() => decodeControlMessage(bytes));
        onlyTypedRefusals(() => decodeControlMessage(Buffer.from(text)));
        onlyTypedRefusals(() => decodeServiceCertificates(bytes));
        onlyTypedRefusals(() => decodeServiceCertificates(Buffer.from(JSON.stringify({ version: 1, certificates: { ecdhP256: text } }))));
        onlyTypedRefusals(() => parseDeviceTopic(text));
      }),
      RUNS,
    );
    fc.assert(fc.property(fc.jsonValue(), (value) => onlyTypedRefusals(() => decodeControlMessage(Buffer.from(JSON.stringify(value) ?? '')))), RUNS);
  });
});
