import { describe, expect, it, beforeAll } from 'vitest';
import { pemToDer } from '../../protocol/certificates.js';
import { ProtocolError } from '../../protocol/errors.js';
import { acceptKexRequest, createKexRequest, DEFAULT_KEX_POLICY, decodeKexRequest, type KexContext } from '../../protocol/kex.js';
import { CertificateAuthority } from '../../local/throwaway-pki.js';
import { deviceIdentity, identityFrom, memoryNonces, protocolFixture, SERVICE_NAME, type ProtocolFixture } from '../support/fixtures.js';
import { sign } from 'node:crypto';

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof ProtocolError) return error.code;
    throw error;
  }
  return 'accepted';
}

let f: ProtocolFixture;
let rogue: CertificateAuthority;
beforeAll(async () => {
  f = await protocolFixture();
  rogue = await CertificateAuthority.create('rogue-ca');
});

const context = (overrides: Partial<KexContext> = {}): KexContext => ({
  trust: f.trust,
  serviceKeys: f.serviceKeys,
  nonces: memoryNonces(),
  policy: DEFAULT_KEX_POLICY,
  now: Date.now(),
  ...overrides,
});

describe('key exchange', () => {
  it('ECDH P-256: both ends derive the same session keys; the service learns the device identity', async () => {
    const device = await deviceIdentity(f.ca, 'sensor-001');
    const request = createKexRequest({ identity: device, service: f.ecService, scheme: 'ecdhP256', keyId: 7, now: Date.now() });
    const accepted = acceptKexRequest(request.message, 'sensor-001', context());
    expect(accepted).toMatchObject({ deviceId: 'sensor-001', keyId: 7, scheme: 'ecdhP256' });
    expect(accepted.keys.encryptionKey.equals(request.keys.encryptionKey)).toBe(true);
    expect(accepted.keys.confirmationKey.equals(request.keys.confirmationKey)).toBe(true);
  });

  it('RSA-OAEP-SHA256 key transport for RSA devices (RSA-PSS signature)', async () => {
    const device = await deviceIdentity(f.ca, 'sensor-rsa', 'rsa-2048');
    const request = createKexRequest({ identity: device, service: f.rsaService, scheme: 'rsaOaepSha256', keyId: 9, now: Date.now() });
    const accepted = acceptKexRequest(request.message, 'sensor-rsa', context());
    expect(accepted.scheme).toBe('rsaOaepSha256');
    expect(accepted.keys.encryptionKey.equals(request.keys.encryptionKey)).toBe(true);
  });

  it('gives every exchange fresh keys', async () => {
    const device = await deviceIdentity(f.ca, 'sensor-001');
    const a = createKexRequest({ identity: device, service: f.ecService, scheme: 'ecdhP256', keyId: 1, now: Date.now() });
    const b = createKexRequest({ identity: device, service: f.ecService, scheme: 'ecdhP256', keyId: 1, now: Date.now() });
    expect(a.keys.encryptionKey.equals(b.keys.encryptionKey)).toBe(false);
  });

  describe('refusals', () => {
    it('stale: too old, or too far in the future', async () => {
      const device = await deviceIdentity(f.ca, 'sensor-001');
      const now = Date.now();
      const old = createKexRequest({ identity: device, service: f.ecService, scheme: 'ecdhP256', keyId: 1, now: now - DEFAULT_KEX_POLICY.maxAgeMs - 1 });
      expect(refusal(() => acceptKexRequest(old.message, 'sensor-001', context({ now })))).toBe('stale');
      const future = createKexRequest({ identity: device, service: f.ecService, scheme: 'ecdhP256', keyId: 1, now: now + 60_000 });
      expect(refusal(() => acceptKexRequest(future.message, 'sensor-001', context({ now })))).toBe('stale');
    });

    it('replay: the same exchange accepted once only', async () => {
      const device = await deviceIdentity(f.ca, 'sensor-001');
      const request = createKexRequest({ identity: device, service: f.ecService, scheme: 'ecdhP256', keyId: 1, now: Date.now() });
      const ctx = context();
      expect(refusal(() => acceptKexRequest(request.message, 'sensor-001', ctx))).toBe('accepted');
      expect(refusal(() => acceptKexRequest(request.message, 'sensor-001', ctx))).toBe('replay');
    });

    it('bad-signature: certificate of the device, signature by another key', async () => {
      const device = await deviceIdentity(f.ca, 'sensor-001');
      const impostor = await deviceIdentity(f.ca, 'sensor-001');
      const request = createKexRequest({
        identity: { ...device, privateKey: impostor.privateKey },
        service: f.ecService,
        scheme: 'ecdhP256',
        keyId: 1,
        now: Date.now(),
      });
      expect(refusal(() => acceptKexRequest(request.message, 'sensor-001', context()))).toBe('bad-signature');
    });

    it('bad-signature: any byte of the signed part altered', async () => {
      const device = await deviceIdentity(f.ca, 'sensor-001');
      const request = createKexRequest({ identity: device, service: f.ecService, scheme: 'ecdhP256', keyId: 1, now: Date.now() });
      const decoded = decodeKexRequest(request.message);
      const keyMaterialOffset = decoded.signed.indexOf(decoded.keyMaterial);
      const tampered = Buffer.from(request.message);
      tampered[keyMaterialOffset + 10]! ^= 0x01;
      expect(refusal(() => acceptKexRequest(tampered, 'sensor-001', context()))).toBe('bad-signature');
    });

    it('untrusted-certificate: another CA, expired, without client-auth, or a CA as leaf', async () => {
      const rogueDevice = identityFrom('sensor-001', await rogue.issue({ commonName: 'sensor-001', usage: 'client' }));
      const expired = identityFrom(
        'sensor-001',
        await f.ca.issue({ commonName: 'sensor-001', usage: 'client', notBefore: new Date(Date.now() - 86_400_000), notAfter: new Date(Date.now() - 60_000) }),
      );
      const serverOnly = identityFrom('sensor-001', await f.ca.issue({ commonName: 'sensor-001', usage: 'client-without-client-auth' }));
      for (const identity of [rogueDevice, expired, serverOnly]) {
        const request = createKexRequest({ identity, service: f.ecService, scheme: 'ecdhP256', keyId: 1, now: Date.now() });
        expect(refusal(() => acceptKexRequest(request.message, 'sensor-001', context()))).toBe('untrusted-certificate');
      }
    });

    it('identity-mismatch: certificate CN differs from the topic, or the message names another device', async () => {
      const other = await deviceIdentity(f.ca, 'sensor-002');
      // Valid certificate and signature of sensor-002, sent on sensor-001's topic.
      const cnMismatch = createKexRequest({ identity: { ...other, deviceId: 'sensor-001' }, service: f.ecService, scheme: 'ecdhP256', keyId: 1, now: Date.now() });
      expect(refusal(() => acceptKexRequest(cnMismatch.message, 'sensor-001', context()))).toBe('identity-mismatch');
      const idMismatch = createKexRequest({ identity: other, service: f.ecService, scheme: 'ecdhP256', keyId: 1, now: Date.now() });
      expect(refusal(() => acceptKexRequest(idMismatch.message, 'sensor-001', context()))).toBe('identity-mismatch');
    });

    it('unknown-service-key: addressed to a key this service does not hold', async () => {
      const device = await deviceIdentity(f.ca, 'sensor-001');
      const request = createKexRequest({ identity: device, service: f.ecService, scheme: 'ecdhP256', keyId: 1, now: Date.now() });
      expect(refusal(() => acceptKexRequest(request.message, 'sensor-001', context({ serviceKeys: { rsa: f.serviceKeys.rsa! } })))).toBe(
        'unknown-service-key',
      );
    });

    it('unsupported-version and malformed framing', async () => {
      const device = await deviceIdentity(f.ca, 'sensor-001');
      const request = createKexRequest({ identity: device, service: f.ecService, scheme: 'ecdhP256', keyId: 1, now: Date.now() });
      const v9 = Buffer.from(request.message);
      v9[0] = 9;
      expect(refusal(() => acceptKexRequest(v9, 'sensor-001', context()))).toBe('unsupported-version');
      const scheme9 = Buffer.from(request.message);
      scheme9[2] = 9;
      expect(refusal(() => acceptKexRequest(scheme9, 'sensor-001', context()))).toBe('unsupported-version');
      expect(refusal(() => acceptKexRequest(request.message.subarray(0, request.message.length - 1), 'sensor-001', context()))).toBe('malformed');
      expect(refusal(() => acceptKexRequest(Buffer.concat([request.message, Buffer.from([0])]), 'sensor-001', context()))).toBe('malformed');
    });

    it('malformed: a signed exchange whose key material is not a point', async () => {
      const device = await deviceIdentity(f.ca, 'sensor-001');
      const request = createKexRequest({ identity: device, service: f.ecService, scheme: 'ecdhP256', keyId: 1, now: Date.now() });
      const decoded = decodeKexRequest(request.message);
      const signed = Buffer.from(decoded.signed);
      signed.fill(0x05, signed.indexOf(decoded.keyMaterial), signed.indexOf(decoded.keyMaterial) + 65);
      const signature = sign('sha256', signed, { key: device.privateKey, dsaEncoding: 'ieee-p1363' });
      const message = Buffer.concat([signed, Buffer.from([0, signature.length]), signature]);
      expect(refusal(() => acceptKexRequest(message, 'sensor-001', context()))).toBe('malformed');
    });
  });

  describe('the device checks the service key before protecting a session key for it', () => {
    it('accepts only a CA-issued certificate with the service name and the usage the scheme needs', async () => {
      const now = Date.now();
      const check = (pem: string, scheme: 'ecdhP256' | 'rsaOaepSha256', name = SERVICE_NAME) =>
        refusal(() => f.trust.verifyServiceCertificate(pemToDer(pem), name, scheme, now));
      expect(check(f.serviceEcCert.certPem, 'ecdhP256')).toBe('accepted');
      expect(check(f.serviceEcCert.certPem, 'ecdhP256', 'other.svc')).toBe('identity-mismatch');
      expect(check(f.serviceEcCert.certPem, 'rsaOaepSha256')).toBe('untrusted-certificate');
      const rogueService = await rogue.issue({ commonName: SERVICE_NAME, usage: 'key-agreement' });
      expect(check(rogueService.certPem, 'ecdhP256')).toBe('untrusted-certificate');
      const clientOnly = await f.ca.issue({ commonName: SERVICE_NAME, usage: 'client' });
      expect(check(clientOnly.certPem, 'ecdhP256')).toBe('untrusted-certificate');
      expect(check(f.ca.certPem, 'ecdhP256')).toBe('untrusted-certificate');
    });
  });
});
