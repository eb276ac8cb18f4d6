import { refuse } from './errors.js';
import type { KexScheme } from './wire.js';

/**
 * The key service's retained announcement on services/key-service/certificates: its key-agreement
 * certificates as PEM, one per scheme it accepts. Devices trust a certificate only after checking it
 * against the stack CA (TrustStore.verifyServiceCertificate); the broker merely carries it.
 */
export interface ServiceCertificates {
  version: 1;
  certificates: Partial<Record<KexScheme, string>>;
}

const MAX_BYTES = 16 * 1024;
const PEM = /^-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----\r?\n?$/;

export function encodeServiceCertificates(certificates: Partial<Record<KexScheme, string>>): Buffer {
  const announcement: ServiceCertificates = { version: 1, certificates };
  return Buffer.from(JSON.stringify(announcement), 'utf8');
}

export function decodeServiceCertificates(bytes: Buffer): ServiceCertificates {
  if (bytes.length > MAX_BYTES) refuse('malformed', 'certificate announcement too large');
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    refuse('malformed', 'certificate announcement is not JSON');
  }
  const record = value as { version?: unknown; certificates?: unknown } | null;
  if (typeof record !== 'object' || record === null) refuse('malformed', 'certificate announcement is not an object');
  if (record.version !== 1) refuse('unsupported-version', 'unknown certificate announcement version');
  const certificates = record.certificates as Record<string, unknown> | null;
  if (typeof certificates !== 'object' || certificates === null) refuse('malformed', 'certificates missing');
  const out: Partial<Record<KexScheme, string>> = {};
  for (const scheme of ['ecdhP256', 'rsaOaepSha256'] as const) {
    const pem = certificates[scheme];
    if (pem === undefined) continue;
    if (typeof pem !== 'string' || !PEM.test(pem)) refuse('malformed', `certificate for ${scheme} is not one PEM certificate`);
    out[scheme] = pem;
  }
  return { version: 1, certificates: out };
}
