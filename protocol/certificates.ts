import { X509Certificate, createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { KEY_USAGE, OID, readCertificate, readRsaPublicKey, type CertificateFields } from './certificate-der.js';
import { normalizeSerial } from '../revocation/serial-number.js';
import { refuse } from './errors.js';
import type { KexScheme } from './wire.js';

const CLIENT_AUTH_OID = '1.3.6.1.5.5.7.3.2';
const MIN_RSA_BITS = 2048;
const CACHE_LIMIT = 10_000;

/** What a CA-signed certificate says, parsed once, then cached by fingerprint (unsigned ones never are). */
interface CertificateFacts {
  isCa: boolean;
  unknownCriticalExtensions: readonly string[];
  commonName: string | undefined;
  notBefore: number;
  notAfter: number;
  extendedKeyUsages: readonly string[];
  /** undefined when the certificate has no keyUsage extension. */
  keyUsageFlags: number | undefined;
  publicKey: KeyObject;
  /** ECDSA P-256 or RSA >= 2048, decided once: reading key details costs on every exchange. */
  keyAcceptable: boolean;
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

/** CA signature algorithms, by OID: the digest, and the CA key type that can have made them. */
const SIGNATURE_ALGORITHMS: ReadonlyMap<string, { digest: string; keyType: 'ec' | 'rsa' }> = new Map([
  ['1.2.840.10045.4.3.2', { digest: 'sha256', keyType: 'ec' }],
  ['1.2.840.10045.4.3.3', { digest: 'sha384', keyType: 'ec' }],
  ['1.2.840.10045.4.3.4', { digest: 'sha512', keyType: 'ec' }],
  ['1.2.840.113549.1.1.11', { digest: 'sha256', keyType: 'rsa' }],
  ['1.2.840.113549.1.1.12', { digest: 'sha384', keyType: 'rsa' }],
  ['1.2.840.113549.1.1.13', { digest: 'sha512', keyType: 'rsa' }],
]);

/**
 * The certificate's key as a KeyObject. P-256 and RSA keys go through JWK, which OpenSSL imports
 * without its generic decoder (RSA about 20 times, EC about 1.5 times faster than SPKI); anything
 * else is decoded from SPKI so that it can be refused by type later.
 */
function publicKeyOf(key: CertificateFields['publicKey']): KeyObject {
  if (key.algorithm === OID.ecPublicKey && key.namedCurve === OID.prime256v1 && key.bits.length === 65 && key.bits[0] === 4) {
    const x = key.bits.subarray(1, 33).toString('base64url');
    const y = key.bits.subarray(33).toString('base64url');
    return createPublicKey({ key: { kty: 'EC', crv: 'P-256', x, y }, format: 'jwk' });
  }
  if (key.algorithm === OID.rsaEncryption) {
    const { modulus, exponent } = readRsaPublicKey(key.bits);
    return createPublicKey({ key: { kty: 'RSA', n: modulus.toString('base64url'), e: exponent.toString('base64url') }, format: 'jwk' });
  }
  return createPublicKey({ key: key.spki, format: 'der', type: 'spki' });
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
  private readonly caKey: KeyObject;
  private readonly caSubject: Buffer;
  private readonly cache = new Map<string, CertificateFacts>();
  private revoked: ReadonlySet<string> = new Set();

  constructor(caPem: string | Buffer) {
    const ca = new X509Certificate(caPem);
    if (!ca.ca) throw new Error('trust anchor is not a CA certificate');
    this.caKey = ca.publicKey;
    this.caSubject = readCertificate(ca.raw).subject;
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

  /**
   * Parses and chain-checks. Nothing the certificate says is used, and its key is not even decoded,
   * before the CA signature over its signed bytes verifies; anything that does not read is `malformed`.
   */
  private parse(der: Buffer, fingerprint: Buffer): CertificateFacts {
    let cert: CertificateFields;
    try {
      cert = readCertificate(der);
    } catch {
      return refuse('malformed', 'certificate does not parse');
    }
    if (!this.signedByCa(cert)) refuse('untrusted-certificate', 'certificate is not issued by the stack CA');
    try {
      const publicKey = publicKeyOf(cert.publicKey);
      return {
        isCa: cert.basicConstraintsCa || ((cert.keyUsageFlags ?? 0) & KEY_USAGE.keyCertSign) !== 0,
        unknownCriticalExtensions: cert.unknownCriticalExtensions,
        commonName: cert.commonNames.length === 1 ? cert.commonNames[0] : undefined,
        notBefore: cert.notBefore,
        notAfter: cert.notAfter,
        extendedKeyUsages: cert.extendedKeyUsages,
        keyUsageFlags: cert.keyUsageFlags,
        publicKey,
        keyAcceptable: hasAcceptableKey(publicKey),
        fingerprint,
        serialNumber: normalizeSerial(cert.serialNumber),
      };
    } catch {
      return refuse('malformed', 'certificate key or serial does not read');
    }
  }

  /** Issuer name equal to the CA's subject, and the CA's signature over the exact signed bytes. */
  private signedByCa(cert: CertificateFields): boolean {
    const algorithm = SIGNATURE_ALGORITHMS.get(cert.signatureAlgorithm);
    if (!algorithm || algorithm.keyType !== this.caKey.asymmetricKeyType) return false;
    if (!cert.issuer.equals(this.caSubject)) return false;
    try {
      return verify(algorithm.digest, cert.tbs, this.caKey, cert.signature);
    } catch {
      return false; // a signature that does not even decode is simply not the CA's
    }
  }

  private checkCommon(facts: CertificateFacts, now: number): void {
    if (facts.isCa) refuse('untrusted-certificate', 'a CA certificate cannot be a leaf');
    if (facts.unknownCriticalExtensions.length > 0) refuse('untrusted-certificate', 'certificate has a critical extension this service does not understand');
    if (now < facts.notBefore || now > facts.notAfter) refuse('untrusted-certificate', 'certificate outside its validity');
    if (!facts.keyAcceptable) refuse('untrusted-certificate', 'key must be ECDSA P-256 or RSA >= 2048');
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
