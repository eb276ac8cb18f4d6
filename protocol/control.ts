import { refuse } from './errors.js';

/**
 * Service → device messages on devices/{id}/control (JSON; the broker lets only the service write there):
 *   {"type":"kex-ack","keyId":n,"confirmation":"<base64 HMAC>"}   the session is installed, with proof
 *   {"type":"rekey","reason":"unknown-session"|"requested"}      the device should run a new exchange
 */
export type ControlMessage =
  | { type: 'kex-ack'; keyId: number; confirmation: string }
  | { type: 'rekey'; reason: RekeyReason };

export const REKEY_REASONS = ['unknown-session', 'requested'] as const;
export type RekeyReason = (typeof REKEY_REASONS)[number];

const MAX_CONTROL_BYTES = 1024;

export function encodeControlMessage(message: ControlMessage): Buffer {
  return Buffer.from(JSON.stringify(message), 'utf8');
}

export function decodeControlMessage(bytes: Buffer): ControlMessage {
  if (bytes.length > MAX_CONTROL_BYTES) refuse('malformed', 'control message too large');
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    refuse('malformed', 'control message is not JSON');
  }
  if (typeof value !== 'object' || value === null) refuse('malformed', 'control message is not an object');
  const message = value as Record<string, unknown>;
  if (message.type === 'kex-ack') {
    const { keyId, confirmation } = message;
    if (typeof keyId !== 'number' || !Number.isInteger(keyId) || keyId < 0 || keyId > 0xffffffff) {
      refuse('malformed', 'kex-ack keyId is not a u32');
    }
    if (typeof confirmation !== 'string' || !/^[A-Za-z0-9+/]{43}=$/.test(confirmation)) {
      refuse('malformed', 'kex-ack confirmation is not a base64 HMAC-SHA256');
    }
    return { type: 'kex-ack', keyId, confirmation };
  }
  if (message.type === 'rekey') {
    const reason = message.reason;
    if (!REKEY_REASONS.includes(reason as RekeyReason)) refuse('malformed', 'unknown rekey reason');
    return { type: 'rekey', reason: reason as RekeyReason };
  }
  return refuse('malformed', 'unknown control message type');
}
