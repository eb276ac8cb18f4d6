import 'reflect-metadata';
import { createPrivateKey, webcrypto, X509Certificate as NodeX509Certificate } from 'node:crypto';
import { p256, p384 } from '@noble/curves/nist.js';
import * as x509 from '@peculiar/x509';
import type { RevocationWindow } from './revocation-window.js';
import { normalizeSerial } from './serial-number.js';

export type RevocationReason = 'unspecified' | 'keyCompromise' | 'superseded' | 'cessationOfOperation';

export interface RevokedCertificate {
  /** Hex, as `openssl x509 -serial` or node's X509Certificate.serialNumber prints it. */
  serialNumber: string;
  revokedAt: Date;
  reason?: RevocationReason;
}

export interface RevocationListRequest extends RevocationWindow {
  issuerCertPem: string;
  issuerKeyPem: string;
  revoked: readonly RevokedCertificate[];
}

const REASONS: Record<RevocationReason, x509.X509CrlReason> = {
  unspecified: x509.X509CrlReason.unspecified,
  keyCompromise: x509.X509CrlReason.keyCompromise,
  superseded: x509.X509CrlReason.superseded,
  cessationOfOperation: x509.X509CrlReason.cessationOfOperation,
};

const subtle = webcrypto.subtle;
/** The WebCrypto type @peculiar/x509 takes (the DOM's Crypto, which this project's lib settings omit). */
type X509Crypto = NonNullable<Parameters<typeof x509.X509CrlGenerator.create>[1]>;

/**
 * A WebCrypto whose ECDSA signatures are deterministic (RFC 6979, @noble/curves): the same inputs
 * give the same CRL bytes, so a Pulumi program that issues it shows no diff on re-runs. RSA
 * PKCS#1 v1.5 is deterministic already and stays with node:crypto.
 */
function deterministicCrypto(curveSecret: { curve: 'P-256' | 'P-384'; d: Uint8Array } | undefined): webcrypto.Crypto {
  const sign = async (algorithm: webcrypto.AlgorithmIdentifier | webcrypto.EcdsaParams, key: webcrypto.CryptoKey, data: webcrypto.BufferSource) => {
    if (curveSecret && typeof algorithm === 'object' && algorithm.name === 'ECDSA') {
      const hash = ((algorithm as webcrypto.EcdsaParams).hash as { name?: string } | string | undefined) ?? 'SHA-256';
      const hashName = typeof hash === 'string' ? hash : hash.name;
      const curve = curveSecret.curve === 'P-256' ? p256 : p384;
      const expected = curveSecret.curve === 'P-256' ? 'SHA-256' : 'SHA-384';
      if (hashName !== expected) throw new Error(`CRL signing: ${curveSecret.curve} signs with ${expected}, not ${hashName}`);
      const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      // IEEE P1363 r||s, what WebCrypto returns and @peculiar/x509 converts to DER.
      return curve.sign(bytes, curveSecret.d, { format: 'compact' }).buffer as ArrayBuffer;
    }
    return subtle.sign(algorithm, key, data);
  };
  const wrapped = new Proxy(subtle, {
    get: (target, property) => (property === 'sign' ? sign : (Reflect.get(target, property) as (...a: unknown[]) => unknown).bind?.(target) ?? Reflect.get(target, property)),
  });
  return { subtle: wrapped, getRandomValues: webcrypto.getRandomValues.bind(webcrypto), randomUUID: webcrypto.randomUUID.bind(webcrypto) } as webcrypto.Crypto;
}

function base64UrlToBytes(value: string): Uint8Array {
  return new Uint8Array(Buffer.from(value, 'base64url'));
}

/**
 * A CRL (X.509 v2, PEM "X509 CRL") signed by the CA, listing the given serials. The CRL number is
 * thisUpdate in seconds: it grows from period to period, but a CRL changed within one period keeps
 * the number (Mosquitto, OpenSSL and the service order CRLs by thisUpdate and do not use it).
 */
export async function issueRevocationList(request: RevocationListRequest): Promise<string> {
  if (request.nextUpdate.getTime() <= request.thisUpdate.getTime()) throw new RangeError('nextUpdate must be after thisUpdate');
  const caCertificate = new NodeX509Certificate(request.issuerCertPem);
  if (!caCertificate.ca) throw new Error('CRL issuer is not a CA certificate');
  const keyObject = createPrivateKey(request.issuerKeyPem);
  if (!caCertificate.checkPrivateKey(keyObject)) throw new Error('CRL issuer key does not match the CA certificate');

  let signingAlgorithm: webcrypto.EcdsaParams | webcrypto.RsaHashedImportParams;
  let curveSecret: { curve: 'P-256' | 'P-384'; d: Uint8Array } | undefined;
  let importParams: webcrypto.EcKeyImportParams | webcrypto.RsaHashedImportParams;
  if (keyObject.asymmetricKeyType === 'ec') {
    const curve = keyObject.asymmetricKeyDetails?.namedCurve === 'secp384r1' ? 'P-384' : 'P-256';
    if (!['prime256v1', 'secp384r1'].includes(keyObject.asymmetricKeyDetails?.namedCurve ?? '')) throw new Error('CRL issuer curve must be P-256 or P-384');
    const hash = curve === 'P-256' ? 'SHA-256' : 'SHA-384';
    signingAlgorithm = { name: 'ECDSA', hash };
    importParams = { name: 'ECDSA', namedCurve: curve };
    curveSecret = { curve, d: base64UrlToBytes(String(keyObject.export({ format: 'jwk' }).d)) };
  } else if (keyObject.asymmetricKeyType === 'rsa') {
    signingAlgorithm = importParams = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  } else {
    throw new Error(`CRL issuer key type ${keyObject.asymmetricKeyType} is not supported`);
  }
  const signingKey = await subtle.importKey('pkcs8', keyObject.export({ type: 'pkcs8', format: 'der' }), importParams, false, ['sign']);
  const issuer = new x509.X509Certificate(request.issuerCertPem);
  // One entry per serial (the same one may be listed twice, e.g. as a device and as a serial): the first wins.
  const bySerial = new Map<string, RevokedCertificate>();
  for (const r of request.revoked) {
    const serial = normalizeSerial(r.serialNumber);
    if (!bySerial.has(serial)) bySerial.set(serial, r);
  }
  const entries = [...bySerial]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([serialNumber, r]) => ({ serialNumber, revocationDate: r.revokedAt, reason: REASONS[r.reason ?? 'unspecified'] }));
  const crlNumber = Math.floor(request.thisUpdate.getTime() / 1000);
  const crl = await x509.X509CrlGenerator.create(
    {
      issuer: issuer.subjectName,
      thisUpdate: request.thisUpdate,
      nextUpdate: request.nextUpdate,
      entries,
      signingKey,
      signingAlgorithm,
      extensions: [
        await x509.AuthorityKeyIdentifierExtension.create(issuer, false, webcrypto as unknown as X509Crypto),
        new x509.Extension('2.5.29.20', false, crlNumberDer(crlNumber)),
      ],
    },
    deterministicCrypto(curveSecret) as unknown as X509Crypto,
  );
  return x509.PemConverter.encode(crl.rawData, 'X509 CRL');
}

/** DER INTEGER for the CRL number extension. */
function crlNumberDer(value: number): ArrayBuffer {
  let hex = value.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  if (Number.parseInt(hex.slice(0, 2), 16) >= 0x80) hex = `00${hex}`;
  const body = Buffer.from(hex, 'hex');
  const der = Buffer.concat([Buffer.from([0x02, body.length]), body]);
  return der.buffer.slice(der.byteOffset, der.byteOffset + der.byteLength) as ArrayBuffer;
}
