import { createHash, createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

/** Keys derived from one key exchange: one for AES-256-GCM, one for the service's key confirmation. */
export interface SessionKeys {
  encryptionKey: Buffer;
  confirmationKey: Buffer;
}

const SESSION_LABEL = Buffer.from('smqtt/1 session keys', 'ascii');
const CONFIRM_LABEL = Buffer.from('smqtt/1 kex-ack', 'ascii');

/**
 * HKDF-SHA256 over the exchanged secret. The salt is the exchange nonce and the info binds the hash of
 * the signed key-exchange message, so both ends derive equal keys only from the same transcript.
 */
export function deriveSessionKeys(secret: Buffer, nonce: Buffer, signedTranscript: Buffer): SessionKeys {
  const transcriptHash = createHash('sha256').update(signedTranscript).digest();
  const okm = Buffer.from(hkdfSync('sha256', secret, nonce, Buffer.concat([SESSION_LABEL, transcriptHash]), 64));
  return { encryptionKey: okm.subarray(0, 32), confirmationKey: okm.subarray(32, 64) };
}

/** Proof that the service derived the session: HMAC-SHA256(confirmationKey, label || deviceId || keyId). */
export function keyConfirmation(keys: SessionKeys, deviceId: string, keyId: number): Buffer {
  const id = Buffer.allocUnsafe(4);
  id.writeUInt32BE(keyId, 0);
  return createHmac('sha256', keys.confirmationKey)
    .update(CONFIRM_LABEL)
    .update(Buffer.from(deviceId, 'ascii'))
    .update(id)
    .digest();
}

export function isValidKeyConfirmation(keys: SessionKeys, deviceId: string, keyId: number, proof: Buffer): boolean {
  const expected = keyConfirmation(keys, deviceId, keyId);
  return proof.length === expected.length && timingSafeEqual(proof, expected);
}
