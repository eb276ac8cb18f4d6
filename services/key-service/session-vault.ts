import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { SessionKeys } from '../../protocol/session-keys.js';

/**
 * Seals session keys at rest so a copy of the database alone does not decrypt telemetry. The
 * key-encryption key is derived from the service's key-agreement private key, which the service
 * already guards; a new key-agreement key makes old sealed sessions unreadable, and devices re-key.
 */
export class SessionVault {
  private readonly kek: Buffer;

  constructor(secret: Buffer) {
    this.kek = Buffer.from(hkdfSync('sha256', secret, Buffer.from('smqtt/1 session-vault'), Buffer.alloc(0), 32));
  }

  seal(keys: SessionKeys, deviceId: string, keyId: number): Buffer {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.kek, iv);
    cipher.setAAD(aad(deviceId, keyId));
    const body = Buffer.concat([cipher.update(Buffer.concat([keys.encryptionKey, keys.confirmationKey])), cipher.final()]);
    return Buffer.concat([iv, body, cipher.getAuthTag()]);
  }

  /** undefined when the record was sealed under another key or altered. */
  open(sealed: Buffer, deviceId: string, keyId: number): SessionKeys | undefined {
    if (sealed.length !== 12 + 64 + 16) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.kek, sealed.subarray(0, 12));
      decipher.setAAD(aad(deviceId, keyId));
      decipher.setAuthTag(sealed.subarray(76));
      const keys = Buffer.concat([decipher.update(sealed.subarray(12, 76)), decipher.final()]);
      return { encryptionKey: keys.subarray(0, 32), confirmationKey: keys.subarray(32) };
    } catch {
      return undefined;
    }
  }
}

function aad(deviceId: string, keyId: number): Buffer {
  const id = Buffer.allocUnsafe(4);
  id.writeUInt32BE(keyId, 0);
  return Buffer.concat([Buffer.from(deviceId, 'ascii'), id]);
}
