import { X509Certificate, createHash, type KeyObject } from 'node:crypto';
import { KEY_USAGE, keyUsageFlags } from './der-key-usage.js';
import { normalizeSerial } from '../revocation/serial-number.js';
import { refuse } from './errors.js';
import type { KexScheme } from './wire.js';

const CLIENT_AUTH_OID = '1.3.6.1.5.5.7.3.2';
const MIN_RSA_BITS = 2048;
const CACHE_LIMIT = 10_000;

/** What a certificate says, parsed and chain-checked once, then cached by fingerprint. */
interface CertificateFacts {
  issuedByCa: boolean;
  isCa: boolean;
  commonName: string | undefined;
  notBefore: number;
  notAfter: number;
  extendedKeyUsages: readonly string[];
  /** undefined when the certificate has no keyUsage extension. */
  keyUsageFlags: number | undefined;
  publicKey: KeyObject;
  fingerprint: Buffer;
  serialNumber: string;
}

export interface VerifiedCertificate {
  commonName: string;
  publicKey: KeyObject;
  /** SHA-256 of the DER certificate. */
  fingerprint: Buffer;
  notAfter: number;
  /** Normalized hex (revocation/serial-number.ts), as CRLs list it. */
  serialNumber: string;
}

export function certificateFingerprint(der: Buffer): Buffer {
  return createHash('sha256').update(der).digest();
}

export function pemToDer(pem: string): Buffer {
  const match = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/.exec(pem);
  if (!match?.[1]) refuse('malformed', 'not a PEM certificate');
  return Buffer.from(match[1].replace(/\s+/g, ''), 'base64');
}

function hasAcceptableKey(key: KeyObject): boolean {
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'ec') return details?.namedCurve === 'prime256v1';
  if (key.asymmetricKeyType === 'rsa') return (details?.modulusLength ?? 0) >= MIN_RSA_BITS;
  return false;
}

/**
 * The stack CA as a trust anchor. One level only: leaves are issued directly by the CA, which is
 * how the stack's PKI is built; anything else is refused as untrusted.
 */
export class TrustStore {
  private readonly ca: X509Certificate;
  private readonly cache = new Map<string, CertificateFacts>();
  private revoked: ReadonlySet<string> = new Set();

  constructor(caPem: string | Buffer) {
    this.ca = new X509Certificate(caPem);
    if (!this.ca.ca) throw new Error('trust anchor is not a CA certificate');
  }

  /** Serials (normalized) refused from now on: the CA's current CRL. Checked on every use, never cached. */
  setRevokedSerials(serials: ReadonlySet<string>): void {
    this.revoked = serials;
  }

  /** Facts about a certificate; chain verification runs once per distinct certificate. */
  private facts(der: Buffer): CertificateFacts {
    const fingerprint = certificateFingerprint(der);
    const cacheKey = fingerprint.toString('hex');
    const cached = this.cache.get(cacheKey);
    if (cached) return cached;

    const facts = this.parse(der, fingerprint);
    if (this.cache.size >= CACHE_LIMIT) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(cacheKey, facts);
    return facts;
  }

  /** Parses and chain-checks; any failure to read the certificate or its key is `malformed`. */
  private parse(der: Buffer, fingerprint: Buffer): CertificateFacts {
    try {
      const cert = new X509Certificate(der);
      const commonNames = cert.subject.split('\n').filter((line) => line.startsWith('CN='));
      return {
        issuedByCa: cert.checkIssued(this.ca) && cert.verify(this.ca.publicKey),
        isCa: cert.ca,
        commonName: commonNames.length === 1 ? commonNames[0]!.slice(3) : undefined,
        notBefore: Date.parse(cert.validFrom),
        notAfter: Date.parse(cert.validTo),
        extendedKeyUsages: cert.keyUsage ?? [],
        keyUsageFlags: keyUsageFlags(der),
        publicKey: cert.publicKey,
        fingerprint,
        serialNumber: normalizeSerial(cert.serialNumber),
      };
    } catch {
      return refuse('malformed', 'certificate does not parse');
    }
  }

  private checkCommon(facts: CertificateFacts, now: number): void {
    if (!facts.issuedByCa) refuse('untrusted-certificate', 'certificate is not issued by the stack CA');
    if (facts.isCa) refuse('untrusted-certificate', 'a CA certificate cannot be a leaf');
    if (now < facts.notBefore || now > facts.notAfter) refuse('untrusted-certificate', 'certificate outside its validity');
    if (!hasAcceptableKey(facts.publicKey)) refuse('untrusted-certificate', 'key must be ECDSA P-256 or RSA >= 2048');
    if (this.revoked.has(facts.serialNumber)) refuse('revoked-certificate', 'certificate is on the CA revocation list');
  }

  /** A device certificate: CA-issued, valid now, client-auth usage, CN equal to the device id. */
  verifyDeviceCertificate(der: Buffer, expectedDeviceId: string, now: number): VerifiedCertificate {
    const facts = this.facts(der);
    this.checkCommon(facts, now);
    if (!facts.extendedKeyUsages.includes(CLIENT_AUTH_OID)) {
      refuse('untrusted-certificate', 'device certificate lacks client-auth usage');
    }
    if (facts.keyUsageFlags !== undefined && (facts.keyUsageFlags & KEY_USAGE.digitalSignature) === 0) {
      refuse('untrusted-certificate', 'device certificate lacks digital-signature usage');
    }
    if (facts.commonName !== expectedDeviceId) refuse('identity-mismatch', 'certificate CN differs from the device id');
    return { commonName: expectedDeviceId, publicKey: facts.publicKey, fingerprint: facts.fingerprint, notAfter: facts.notAfter, serialNumber: facts.serialNumber };
  }

  /**
   * The service's key-agreement certificate, checked by a device before it protects a session key for
   * it: CA-issued, valid, the expected service name, and the usage and key type the scheme needs.
   */
  verifyServiceCertificate(der: Buffer, expectedName: string, scheme: KexScheme, now: number): VerifiedCertificate {
    const facts = this.facts(der);
    this.checkCommon(facts, now);
    if (facts.commonName !== expectedName) refuse('identity-mismatch', 'service certificate names another service');
    const [keyType, usage, usageName] =
      scheme === 'ecdhP256'
        ? ['ec', KEY_USAGE.keyAgreement, 'key-agreement']
        : ['rsa', KEY_USAGE.keyEncipherment, 'key-encipherment'];
    if (facts.publicKey.asymmetricKeyType !== keyType) refuse('untrusted-certificate', `service key is not ${keyType}`);
    if (facts.keyUsageFlags === undefined || (facts.keyUsageFlags & usage) === 0) {
      refuse('untrusted-certificate', `service certificate lacks ${usageName} usage`);
    }
    return { commonName: expectedName, publicKey: facts.publicKey, fingerprint: facts.fingerprint, notAfter: facts.notAfter, serialNumber: facts.serialNumber };
  }
}
