import { createPrivateKey, type KeyObject } from 'node:crypto';
import { CertificateAuthority, type Credential, type KeyAlgorithm } from '../../local/throwaway-pki.js';
import { pemToDer, TrustStore, type VerifiedCertificate } from '../../protocol/certificates.js';
import { ecdhFromPrivateKey, MemoryNonceRegistry, type DeviceIdentity, type NonceRegistry, type ServiceKeyMaterial } from '../../protocol/kex.js';

export const SERVICE_NAME = 'key-service.svc';

export interface ProtocolFixture {
  ca: CertificateAuthority;
  trust: TrustStore;
  serviceEcCert: Credential;
  serviceRsaCert: Credential;
  serviceKeys: ServiceKeyMaterial;
  ecService: VerifiedCertificate;
  rsaService: VerifiedCertificate;
}

/** A CA with the service's two key-agreement certificates, as the key service holds them. */
export async function protocolFixture(): Promise<ProtocolFixture> {
  const ca = await CertificateAuthority.create('test-ca');
  const trust = new TrustStore(ca.certPem);
  const serviceEcCert = await ca.issue({ commonName: SERVICE_NAME, usage: 'key-agreement' });
  const serviceRsaCert = await ca.issue({ commonName: SERVICE_NAME, usage: 'key-encipherment', keyAlgorithm: 'rsa-2048' });
  const now = Date.now();
  const ecService = trust.verifyServiceCertificate(pemToDer(serviceEcCert.certPem), SERVICE_NAME, 'ecdhP256', now);
  const rsaService = trust.verifyServiceCertificate(pemToDer(serviceRsaCert.certPem), SERVICE_NAME, 'rsaOaepSha256', now);
  const serviceKeys: ServiceKeyMaterial = {
    ecdh: { certFingerprint: ecService.fingerprint, privateKey: ecdhFromPrivateKey(createPrivateKey(serviceEcCert.keyPem)) },
    rsa: { certFingerprint: rsaService.fingerprint, privateKey: createPrivateKey(serviceRsaCert.keyPem) },
  };
  return { ca, trust, serviceEcCert, serviceRsaCert, serviceKeys, ecService, rsaService };
}

export async function deviceIdentity(
  ca: CertificateAuthority,
  deviceId: string,
  keyAlgorithm: KeyAlgorithm = 'ecdsa-p256',
  commonName = deviceId,
): Promise<DeviceIdentity & { credential: Credential }> {
  const credential = await ca.issue({ commonName, usage: 'client', keyAlgorithm });
  return identityFrom(deviceId, credential);
}

export function identityFrom(deviceId: string, credential: Credential): DeviceIdentity & { credential: Credential } {
  const privateKey: KeyObject = createPrivateKey(credential.keyPem);
  return { deviceId, certificateDer: pemToDer(credential.certPem), privateKey, credential };
}

/** A fresh in-memory nonce registry, as each protocol test needs its own. */
export function memoryNonces(): NonceRegistry {
  return new MemoryNonceRegistry();
}
