import { createCipheriv, createDecipheriv } from 'node:crypto';
import { refuse } from './errors.js';
import { PROTOCOL_VERSION, MESSAGE_KIND } from './wire.js';

/**
 * Telemetry envelope, version 1 (docs/protocol.md):
 *
 *   u8 version | u8 kind=0x02 | u32 keyId | u32 seq | u48 sentAt ms | ciphertext | 16-byte GCM tag
 *
 * AES-256-GCM; the 96-bit nonce is keyId || 0x00000000 || seq, so it never repeats under one key while
 * seq never repeats (the sealer refuses to wrap around; devices rotate long before). The AAD is the
 * 16-byte header followed by the device id, binding version, device, key, sequence number and time.
 */
export const ENVELOPE_HEADER_BYTES = 16;
export const GCM_TAG_BYTES = 16;
export const MAX_SEQ = 0xffffffff;

export interface EnvelopeHeader {
  keyId: number;
  seq: number;
  sentAt: number;
}

export interface OpenedEnvelope extends EnvelopeHeader {
  plaintext: Buffer;
}

function writeHeader(header: EnvelopeHeader): Buffer {
  const out = Buffer.allocUnsafe(ENVELOPE_HEADER_BYTES);
  out.writeUInt8(PROTOCOL_VERSION, 0);
  out.writeUInt8(MESSAGE_KIND.telemetry, 1);
  out.writeUInt32BE(header.keyId, 2);
  out.writeUInt32BE(header.seq, 6);
  out.writeUIntBE(header.sentAt, 10, 6);
  return out;
}

function nonceFor(keyId: number, seq: number): Buffer {
  const nonce = Buffer.allocUnsafe(12);
  nonce.writeUInt32BE(keyId, 0);
  nonce.writeUInt32BE(0, 4);
  nonce.writeUInt32BE(seq, 8);
  return nonce;
}

/** Header bytes then the device id (ASCII), in one allocation: this runs for every envelope. */
function aadFor(header: Buffer, deviceId: string): Buffer {
  const aad = Buffer.allocUnsafe(ENVELOPE_HEADER_BYTES + deviceId.length);
  header.copy(aad, 0, 0, ENVELOPE_HEADER_BYTES);
  aad.write(deviceId, ENVELOPE_HEADER_BYTES, 'ascii');
  return aad;
}

/** Reads the clear header without touching the ciphertext: the service needs keyId and seq first. */
export function readEnvelopeHeader(envelope: Buffer): EnvelopeHeader {
  if (envelope.length < 2) refuse('malformed', 'envelope shorter than its version and kind');
  if (envelope.readUInt8(0) !== PROTOCOL_VERSION) refuse('unsupported-version', 'unknown envelope version');
  if (envelope.readUInt8(1) !== MESSAGE_KIND.telemetry) refuse('malformed', 'not a telemetry envelope');
  if (envelope.length < ENVELOPE_HEADER_BYTES + GCM_TAG_BYTES + 1) refuse('malformed', 'envelope too short');
  return {
    keyId: envelope.readUInt32BE(2),
    seq: envelope.readUInt32BE(6),
    sentAt: envelope.readUIntBE(10, 6),
  };
}

export function sealEnvelope(key: Buffer, deviceId: string, header: EnvelopeHeader, plaintext: Buffer): Buffer {
  if (key.length !== 32) throw new RangeError('session key must be 32 bytes');
  if (!Number.isInteger(header.seq) || header.seq < 0 || header.seq > MAX_SEQ) {
    throw new RangeError('sequence number exhausted: rotate the session key');
  }
  if (plaintext.length === 0) throw new RangeError('empty plaintext');
  const head = writeHeader(header);
  const cipher = createCipheriv('aes-256-gcm', key, nonceFor(header.keyId, header.seq), { authTagLength: GCM_TAG_BYTES });
  cipher.setAAD(aadFor(head, deviceId));
  const body = cipher.update(plaintext);
  const final = cipher.final();
  return Buffer.concat([head, body, final, cipher.getAuthTag()]);
}

/** Decrypts and authenticates; any mismatch in header, device id, key or ciphertext is `bad-tag`. */
export function openEnvelope(key: Buffer, deviceId: string, envelope: Buffer): OpenedEnvelope {
  const header = readEnvelopeHeader(envelope);
  const tagStart = envelope.length - GCM_TAG_BYTES;
  const decipher = createDecipheriv('aes-256-gcm', key, nonceFor(header.keyId, header.seq), {
    authTagLength: GCM_TAG_BYTES,
  });
  decipher.setAAD(aadFor(envelope.subarray(0, ENVELOPE_HEADER_BYTES), deviceId));
  decipher.setAuthTag(envelope.subarray(tagStart));
  const body = decipher.update(envelope.subarray(ENVELOPE_HEADER_BYTES, tagStart));
  try {
    decipher.final();
  } catch {
    refuse('bad-tag', 'envelope failed authentication');
  }
  return { keyId: header.keyId, seq: header.seq, sentAt: header.sentAt, plaintext: body };
}
