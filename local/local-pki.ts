import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CertificateAuthority, type Credential } from './throwaway-pki.js';

export const SERVICE_IDENTITY = 'key-service.svc';

export interface CredentialFiles {
  certPath: string;
  keyPath: string;
}

export interface LocalPki {
  ca: CertificateAuthority;
  caCertPath: string;
  broker: Credential;
  service: CredentialFiles;
  serviceKexEc: CredentialFiles;
  serviceKexRsa: CredentialFiles;
  devices: (CredentialFiles & { id: string; keyAlgorithm: 'ecdsa-p256' | 'rsa-2048' })[];
}

export interface LocalPkiOptions {
  dir: string;
  deviceIds: string[];
  /** Devices from this index on get RSA-2048 keys and use RSA-OAEP key transport. */
  rsaFromIndex?: number;
}

/** The stack's PKI written to disk: public parts 0644, private keys 0600. */
export async function createLocalPki(options: LocalPkiOptions): Promise<LocalPki> {
  const { dir } = options;
  mkdirSync(join(dir, 'devices'), { recursive: true });
  const write = (name: string, credential: Credential): CredentialFiles => {
    const certPath = join(dir, `${name}.crt`);
    const keyPath = join(dir, `${name}.key`);
    writeFileSync(certPath, credential.certPem, { mode: 0o644 });
    writeFileSync(keyPath, credential.keyPem, { mode: 0o600 });
    return { certPath, keyPath };
  };
  const ca = await CertificateAuthority.create('secure-mqtt-stack local CA');
  const caCertPath = join(dir, 'ca.crt');
  writeFileSync(caCertPath, ca.certPem, { mode: 0o644 });
  const broker = await ca.issue({ commonName: 'localhost', usage: 'server', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const service = write('key-service', await ca.issue({ commonName: SERVICE_IDENTITY, usage: 'client' }));
  const serviceKexEc = write('key-service-kex-ec', await ca.issue({ commonName: SERVICE_IDENTITY, usage: 'key-agreement' }));
  const serviceKexRsa = write(
    'key-service-kex-rsa',
    await ca.issue({ commonName: SERVICE_IDENTITY, usage: 'key-encipherment', keyAlgorithm: 'rsa-2048' }),
  );
  const rsaFrom = options.rsaFromIndex ?? options.deviceIds.length;
  const devices = await Promise.all(
    options.deviceIds.map(async (id, i) => {
      const keyAlgorithm = i >= rsaFrom ? ('rsa-2048' as const) : ('ecdsa-p256' as const);
      const files = write(join('devices', id), await ca.issue({ commonName: id, usage: 'client', keyAlgorithm }));
      return { id, keyAlgorithm, ...files };
    }),
  );
  return { ca, caCertPath, broker, service, serviceKexEc, serviceKexRsa, devices };
}
