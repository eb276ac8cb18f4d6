import {
  constants,
  createECDH,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
  sign,
  verify,
  type ECDH,
  type KeyObject,
} from 'node:crypto';
import { ByteReader, sizedField } from './byte-reader.js';
import type { TrustStore, VerifiedCertificate } from './certificates.js';
import { refuse } from './errors.js';
import { deriveSessionKeys, type SessionKeys } from './session-keys.js';
import { assertValidDeviceId } from './topics.js';
import { KEX_SCHEME, MESSAGE_KIND, PROTOCOL_VERSION, kexSchemeFromByte, type KexScheme } from './wire.js';

/**
 * Key-exchange request, version 1 (docs/protocol.md), sent by a device on devices/{id}/kex:
 *
 *   u8 version | u8 kind=0x01 | u8 scheme | u32 keyId | u48 timestamp ms | 16-byte nonce
 *   | 32-byte SHA-256 of the service certificate it is addressed to | u8-sized device id
 *   | u16-sized key material | u16-sized device certificate (DER) | u16-sized signature
 *
 * The signature (device key; ECDSA P-256 SHA-256 in IEEE P1363 form, or RSA-PSS SHA-256) covers every
 * byte before the signature's length. Key material is the device's ephemeral P-256 public key (ECDH)
 * or the session secret wrapped with RSA-OAEP-SHA256 for the service's RSA key.
 */
export const KEX_NONCE_BYTES = 16;
const SECRET_BYTES = 32;
const PSS_SALT_BYTES = 32;

export interface KexRequest {
  scheme: KexScheme;
  keyId: number;
  timestamp: number;
  nonce: Buffer;
  serviceCertFingerprint: Buffer;
  deviceId: string;
  keyMaterial: Buffer;
  deviceCertificate: Buffer;
  signature: Buffer;
  /** The bytes the signature covers. */
  signed: Buffer;
}

export function decodeKexRequest(bytes: Buffer): KexRequest {
  const reader = new ByteReader(bytes);
  if (reader.u8() !== PROTOCOL_VERSION) refuse('unsupported-version', 'unknown key-exchange version');
  if (reader.u8() !== MESSAGE_KIND.kexRequest) refuse('malformed', 'not a key-exchange request');
  const scheme = kexSchemeFromByte(reader.u8());
  if (!scheme) refuse('unsupported-version', 'unknown key-exchange scheme');
  const keyId = reader.u32();
  const timestamp = reader.u48();
  const nonce = reader.fixed(KEX_NONCE_BYTES);
  const serviceCertFingerprint = reader.fixed(32);
  const deviceId = reader.sized('u8').toString('latin1');
  const keyMaterial = reader.sized('u16');
  const deviceCertificate = reader.sized('u16');
  const signedLength = reader.position;
  const signature = reader.sized('u16');
  reader.expectEnd();
  return {
    scheme,
    keyId,
    timestamp,
    nonce,
    serviceCertFingerprint,
    deviceId,
    keyMaterial,
    deviceCertificate,
    signature,
    signed: bytes.subarray(0, signedLength),
  };
}

function signatureOptions(key: KeyObject) {
  return key.asymmetricKeyType === 'ec'
    ? { key, dsaEncoding: 'ieee-p1363' as const }
    : { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: PSS_SALT_BYTES };
}

// ---------------------------------------------------------------- device side

export interface DeviceIdentity {
  deviceId: string;
  certificateDer: Buffer;
  privateKey: KeyObject;
}

export interface KexRequestInput {
  identity: DeviceIdentity;
  /** The service certificate, already checked with TrustStore.verifyServiceCertificate. */
  service: VerifiedCertificate;
  scheme: KexScheme;
  keyId: number;
  now: number;
}

export interface CreatedKexRequest {
  message: Buffer;
  keys: SessionKeys;
  keyId: number;
}

export function createKexRequest(input: KexRequestInput): CreatedKexRequest {
  const { identity, service, scheme, keyId, now } = input;
  assertValidDeviceId(identity.deviceId);
  const nonce = randomBytes(KEX_NONCE_BYTES);
  let secret: Buffer;
  let keyMaterial: Buffer;
  if (scheme === 'ecdhP256') {
    const ephemeral = createECDH('prime256v1');
    keyMaterial = ephemeral.generateKeys();
    secret = ephemeral.computeSecret(uncompressedPoint(service.publicKey));
  } else {
    secret = randomBytes(SECRET_BYTES);
    keyMaterial = publicEncrypt(
      { key: service.publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      secret,
    );
  }
  const head = Buffer.allocUnsafe(13);
  head.writeUInt8(PROTOCOL_VERSION, 0);
  head.writeUInt8(MESSAGE_KIND.kexRequest, 1);
  head.writeUInt8(KEX_SCHEME[scheme], 2);
  head.writeUInt32BE(keyId, 3);
  head.writeUIntBE(now, 7, 6);
  const signed = Buffer.concat([
    head,
    nonce,
    service.fingerprint,
    sizedField(Buffer.from(identity.deviceId, 'ascii'), 'u8'),
    sizedField(keyMaterial, 'u16'),
    sizedField(identity.certificateDer, 'u16'),
  ]);
  const signature = sign('sha256', signed, signatureOptions(identity.privateKey));
  return {
    message: Buffer.concat([signed, sizedField(signature, 'u16')]),
    keys: deriveSessionKeys(secret, nonce, signed),
    keyId,
  };
}

/** The uncompressed SEC1 point of an EC public key (0x04 || X || Y). */
function uncompressedPoint(key: KeyObject): Buffer {
  const { x = '', y = '' } = key.export({ format: 'jwk' });
  return Buffer.concat([Buffer.from([4]), Buffer.from(x, 'base64url'), Buffer.from(y, 'base64url')]);
}

// ---------------------------------------------------------------- service side

/** The service's key-agreement keys, each with the fingerprint of the certificate that publishes it. */
export interface ServiceKeyMaterial {
  ecdh?: { certFingerprint: Buffer; privateKey: ECDH };
  rsa?: { certFingerprint: Buffer; privateKey: KeyObject };
}

export function ecdhFromPrivateKey(key: KeyObject): ECDH {
  const d = key.export({ format: 'jwk' }).d;
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1' || !d) {
    throw new TypeError('key-agreement key must be an EC P-256 private key');
  }
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(Buffer.from(d, 'base64url'));
  return ecdh;
}

/** Remembers exchange nonces until they expire; answers false for one it has already seen. */
export interface NonceRegistry {
  remember(deviceId: string, nonce: Buffer, expiresAt: number): boolean;
}

/** A NonceRegistry in memory, for a single process (the key service persists its own in SQLite). */
export class MemoryNonceRegistry implements NonceRegistry {
  private readonly expiries = new Map<string, number>();

  remember(deviceId: string, nonce: Buffer, expiresAt: number): boolean {
    const key = `${deviceId}:${nonce.toString('hex')}`;
    if (this.expiries.has(key)) return false;
    this.expiries.set(key, expiresAt);
    return true;
  }

  /** Forgets nonces whose exchanges could no longer pass the freshness check anyway. */
  purge(now: number): void {
    for (const [key, expiresAt] of this.expiries) if (expiresAt < now) this.expiries.delete(key);
  }
}

export interface KexPolicy {
  /** Oldest acceptable request age. */
  maxAgeMs: number;
  /** How far a device clock may run ahead of the service. */
  maxFutureSkewMs: number;
}

export const DEFAULT_KEX_POLICY: KexPolicy = { maxAgeMs: 5 * 60_000, maxFutureSkewMs: 30_000 };

export interface AcceptedKex {
  deviceId: string;
  keyId: number;
  scheme: KexScheme;
  keys: SessionKeys;
  certificate: VerifiedCertificate;
  timestamp: number;
}

export interface KexContext {
  trust: TrustStore;
  serviceKeys: ServiceKeyMaterial;
  nonces: NonceRegistry;
  policy: KexPolicy;
  now: number;
}

/**
 * Verifies a key-exchange request from the device named in its topic. Cheap checks run first; the
 * nonce is recorded only after the signature verifies, so unsigned traffic cannot fill the registry.
 */
export function acceptKexRequest(bytes: Buffer, topicDeviceId: string, ctx: KexContext): AcceptedKex {
  const request = decodeKexRequest(bytes);
  if (request.deviceId !== topicDeviceId) refuse('identity-mismatch', 'device id in the message differs from the topic');
  const age = ctx.now - request.timestamp;
  if (age > ctx.policy.maxAgeMs || -age > ctx.policy.maxFutureSkewMs) refuse('stale', 'key exchange outside the freshness window');

  const serviceFingerprint =
    request.scheme === 'ecdhP256' ? ctx.serviceKeys.ecdh?.certFingerprint : ctx.serviceKeys.rsa?.certFingerprint;
  if (!serviceFingerprint?.equals(request.serviceCertFingerprint)) {
    refuse('unknown-service-key', 'key exchange addressed to a service key this service does not hold');
  }
  const certificate = ctx.trust.verifyDeviceCertificate(request.deviceCertificate, topicDeviceId, ctx.now);
  if (!verifies(request, certificate.publicKey)) refuse('bad-signature', 'key-exchange signature does not verify');
  if (!ctx.nonces.remember(topicDeviceId, request.nonce, request.timestamp + ctx.policy.maxAgeMs)) {
    refuse('replay', 'key-exchange nonce seen before');
  }

  const secret = recoverSecret(request, ctx.serviceKeys);
  if (secret.length !== SECRET_BYTES) refuse('malformed', 'session secret has the wrong length');
  return {
    deviceId: topicDeviceId,
    keyId: request.keyId,
    scheme: request.scheme,
    keys: deriveSessionKeys(secret, request.nonce, request.signed),
    certificate,
    timestamp: request.timestamp,
  };
}

/** The exchanged secret: ECDH with the service key, or the RSA-OAEP-wrapped secret unwrapped. */
function recoverSecret(request: KexRequest, serviceKeys: ServiceKeyMaterial): Buffer {
  try {
    if (request.scheme === 'ecdhP256' && serviceKeys.ecdh) {
      return serviceKeys.ecdh.privateKey.computeSecret(request.keyMaterial);
    }
    if (request.scheme === 'rsaOaepSha256' && serviceKeys.rsa) {
      return privateDecrypt(
        { key: serviceKeys.rsa.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
        request.keyMaterial,
      );
    }
  } catch {
    refuse('malformed', 'key material does not decode');
  }
  return refuse('unknown-service-key', 'no service key for this scheme');
}

function verifies(request: KexRequest, key: KeyObject): boolean {
  try {
    return verify('sha256', request.signed, signatureOptions(key), request.signature);
  } catch {
    return false; // a signature of the wrong shape for the key is simply not a valid signature
  }
}
