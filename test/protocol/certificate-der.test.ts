import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey, sign, verify } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEY_USAGE, readCertificate } from '../../protocol/certificate-der.js';
import { childrenOf, readRoot, whole } from '../../protocol/der.js';
import { pemToDer, TrustStore } from '../../protocol/certificates.js';
import { isProtocolError, type RefusalCode } from '../../protocol/errors.js';
import { normalizeSerial } from '../../revocation/serial-number.js';
import { CertificateAuthority, type LeafUsage } from '../../local/throwaway-pki.js';

/**
 * The key-exchange path reads certificates with protocol/certificate-der.ts instead of OpenSSL. These
 * tests hold it to OpenSSL's reading (node's X509Certificate) and @peculiar/x509's, on certificates
 * made by two different encoders, and check that no input makes it accept what OpenSSL would refuse.
 */
let ca: CertificateAuthority;
let otherCa: CertificateAuthority;
let dir: string;
const certificates: { label: string; der: Buffer }[] = [];

/** A leaf issued by the OpenSSL command line from the same CA, with the given extension lines. */
function opensslLeaf(commonName: string, extensions: string[]): Buffer {
  const id = `leaf-${certificates.length}-${Math.random().toString(36).slice(2)}`;
  writeFileSync(join(dir, 'ca.crt'), ca.certPem);
  writeFileSync(join(dir, 'ca.key'), ca.credential.keyPem, { mode: 0o600 });
  writeFileSync(join(dir, `${id}.ext`), extensions.join('\n'));
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  run(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${id}.key`, '-out', `${id}.csr`, '-subj', `/CN=${commonName}`]);
  run(['x509', '-req', '-in', `${id}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', '0x00ff0102', '-days', '2', '-sha256', '-extfile', `${id}.ext`, '-out', `${id}.crt`]);
  return pemToDer(execFileSync('cat', [`${id}.crt`], { cwd: dir, encoding: 'utf8' }));
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'smqtt-der-'));
  ca = await CertificateAuthority.create('der-test');
  otherCa = await CertificateAuthority.create('der-test'); // same name, different key
  certificates.push({ label: 'CA', der: pemToDer(ca.certPem) });
  const usages: LeafUsage[] = ['server', 'client', 'key-agreement', 'key-encipherment', 'client-without-client-auth'];
  for (const usage of usages) {
    const issued = await ca.issue({ commonName: `leaf-${usage}`, usage, dnsNames: usage === 'server' ? ['broker.local'] : undefined });
    certificates.push({ label: `@peculiar ${usage}`, der: pemToDer(issued.certPem) });
  }
  certificates.push({ label: '@peculiar RSA client', der: pemToDer((await ca.issue({ commonName: 'rsa-device', usage: 'client', keyAlgorithm: 'rsa-2048' })).certPem) });
  certificates.push({
    label: 'openssl client',
    der: opensslLeaf('sensor-openssl', ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=clientAuth']),
  });
}, 60_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('certificate fields read from DER', () => {
  it('agree with OpenSSL and @peculiar/x509 for certificates from both encoders', () => {
    for (const { label, der } of certificates) {
      const fields = readCertificate(der);
      const openssl = new X509Certificate(der);
      const peculiar = new x509.X509Certificate(der);
      const context = `${label}: `;
      expect(context + normalizeSerial(fields.serialNumber)).toBe(context + normalizeSerial(openssl.serialNumber));
      expect(fields.notBefore, label).toBe(Date.parse(openssl.validFrom));
      expect(fields.notAfter, label).toBe(Date.parse(openssl.validTo));
      const opensslCns = openssl.subject.split('\n').filter((l) => l.startsWith('CN=')).map((l) => l.slice(3));
      expect(fields.commonNames, label).toEqual(opensslCns);
      expect(fields.extendedKeyUsages, label).toEqual(openssl.keyUsage ?? []);
      expect(fields.keyUsageFlags, label).toBe(peculiar.getExtension(x509.KeyUsagesExtension)?.usages);
      expect(fields.basicConstraintsCa, label).toBe(openssl.ca);
      expect(fields.publicKey.spki.equals(openssl.publicKey.export({ type: 'spki', format: 'der' })), label).toBe(true);
      expect(fields.subject.equals(Buffer.from(peculiar.subjectName.toArrayBuffer())), label).toBe(true);
      expect(fields.issuer.equals(Buffer.from(peculiar.issuerName.toArrayBuffer())), label).toBe(true);
      expect(fields.tbs.equals(Buffer.from((peculiar as unknown as { tbs: ArrayBuffer }).tbs)), label).toBe(true); // private in the typings
      expect(verify('sha256', fields.tbs, new X509Certificate(ca.certPem).publicKey, fields.signature), label).toBe(true);
    }
    expect(readCertificate(certificates[0]!.der).keyUsageFlags).toBe(KEY_USAGE.keyCertSign | KEY_USAGE.cRLSign);
  });

  it('refuses truncated and trailing bytes as malformed, with nothing but typed refusals', () => {
    const der = certificates[2]!.der;
    fc.assert(
      fc.property(fc.nat(der.length - 1), (cut) => {
        expect(() => readCertificate(der.subarray(0, cut))).toThrow(expect.objectContaining({ code: 'malformed' }));
      }),
    );
    expect(() => readCertificate(Buffer.concat([der, Buffer.from([0])]))).toThrow(expect.objectContaining({ code: 'malformed' }));
  });

  it('refuses BER that DER forbids: long-form short lengths and indefinite lengths', () => {
    const der = certificates[2]!.der;
    // The outer SEQUENCE is 30 82 LL LL; re-encode its length with a leading zero byte.
    const padded = Buffer.concat([Buffer.from([0x30, 0x83, 0x00]), der.subarray(2)]);
    expect(() => readCertificate(padded)).toThrow(expect.objectContaining({ code: 'malformed' }));
    const indefinite = Buffer.concat([Buffer.from([0x30, 0x80]), der.subarray(4), Buffer.from([0, 0])]);
    expect(() => readCertificate(indefinite)).toThrow(expect.objectContaining({ code: 'malformed' }));
  });
});

/** The chain check as it was done with OpenSSL before (node's X509Certificate): the oracle. */
function opensslAccepts(der: Buffer, deviceId: string): boolean {
  try {
    const anchor = new X509Certificate(ca.certPem);
    const cert = new X509Certificate(der);
    const cns = cert.subject.split('\n').filter((l) => l.startsWith('CN='));
    const now = Date.now();
    return (
      cert.checkIssued(anchor) &&
      cert.verify(anchor.publicKey) &&
      !cert.ca &&
      now >= Date.parse(cert.validFrom) &&
      now <= Date.parse(cert.validTo) &&
      (cert.keyUsage ?? []).includes('1.3.6.1.5.5.7.3.2') &&
      cns.length === 1 &&
      cns[0] === `CN=${deviceId}`
    );
  } catch {
    return false;
  }
}

function refusalOf(trust: TrustStore, der: Buffer, deviceId: string): RefusalCode | 'accepted' {
  try {
    trust.verifyDeviceCertificate(der, deviceId, Date.now());
    return 'accepted';
  } catch (error) {
    if (!isProtocolError(error)) throw error;
    return error.code;
  }
}

describe('TrustStore on the DER reader', () => {
  it('accepts what OpenSSL accepts, from both encoders', () => {
    const trust = new TrustStore(ca.certPem);
    expect(refusalOf(trust, certificates.find((c) => c.label === '@peculiar client')!.der, 'leaf-client')).toBe('accepted');
    expect(refusalOf(trust, certificates.find((c) => c.label === '@peculiar RSA client')!.der, 'rsa-device')).toBe('accepted');
    expect(refusalOf(trust, certificates.find((c) => c.label === 'openssl client')!.der, 'sensor-openssl')).toBe('accepted');
    expect(refusalOf(trust, certificates[0]!.der, 'der-test')).toBe('untrusted-certificate'); // the CA as a leaf
  });

  it('never accepts a certificate OpenSSL refuses: random byte changes anywhere in it', () => {
    const der = certificates.find((c) => c.label === '@peculiar client')!.der;
    let accepted = 0;
    fc.assert(
      fc.property(fc.nat(der.length - 1), fc.integer({ min: 1, max: 255 }), (offset, xor) => {
        const mutated = Buffer.from(der);
        mutated[offset]! ^= xor;
        const verdict = refusalOf(new TrustStore(ca.certPem), mutated, 'leaf-client');
        if (verdict === 'accepted') {
          accepted++;
          expect(opensslAccepts(mutated, 'leaf-client')).toBe(true);
        }
      }),
      { numRuns: 2_000 },
    );
    // Only bytes outside the signed part and the signature could ever be changed unnoticed: none here.
    expect(accepted).toBe(0);
  });

  it('refuses a certificate from another CA with the same name, and an unknown critical extension', async () => {
    const trust = new TrustStore(ca.certPem);
    const foreign = pemToDer((await otherCa.issue({ commonName: 'sensor-foreign', usage: 'client' })).certPem);
    expect(opensslAccepts(foreign, 'sensor-foreign')).toBe(false);
    expect(refusalOf(trust, foreign, 'sensor-foreign')).toBe('untrusted-certificate');

    const critical = opensslLeaf('sensor-critical', ['keyUsage=critical,digitalSignature', 'extendedKeyUsage=clientAuth', '1.3.6.1.4.1.55555.1=critical,ASN1:NULL']);
    expect(readCertificate(critical).unknownCriticalExtensions).toEqual(['1.3.6.1.4.1.55555.1']);
    expect(refusalOf(trust, critical, 'sensor-critical')).toBe('untrusted-certificate');
    const nonCritical = opensslLeaf('sensor-noncritical', ['keyUsage=critical,digitalSignature', 'extendedKeyUsage=clientAuth', '1.3.6.1.4.1.55555.1=ASN1:NULL']);
    expect(refusalOf(trust, nonCritical, 'sensor-noncritical')).toBe('accepted');
  });
});

/** DER re-encoding, to make certificates the stack CA really signed but no encoder would produce. */
function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  const length = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), length, content]);
}

/** The whole encodings of a DER value's children. */
function parts(der: Buffer): Buffer[] {
  return childrenOf(der, readRoot(der)).map((child) => Buffer.from(whole(der, child)));
}

/** A certificate over `tbsFields`, signed with the stack CA's key (ECDSA P-256, SHA-256). */
function signedByStackCa(tbsFields: Buffer[], template: Buffer): Buffer {
  const tbs = tlv(0x30, Buffer.concat(tbsFields));
  const signature = sign('sha256', tbs, createPrivateKey(ca.credential.keyPem));
  const [, algorithm] = parts(template);
  return tlv(0x30, Buffer.concat([tbs, algorithm!, tlv(0x03, Buffer.concat([Buffer.from([0]), signature]))]));
}

describe('certificates the CA signed but DER or RFC 5280 forbid', () => {
  const client = () => certificates.find((c) => c.label === '@peculiar client')!.der;
  const tbsOf = (der: Buffer) => parts(parts(der)[0]!);

  it('re-signing an unchanged signed part is accepted (the helper itself is faithful)', () => {
    const trust = new TrustStore(ca.certPem);
    expect(refusalOf(trust, signedByStackCa(tbsOf(client()), client()), 'leaf-client')).toBe('accepted');
  });

  it('refuses keyUsage with unused bits set, which OpenSSL would silently mask', () => {
    const fields = tbsOf(client());
    const extensionsIndex = fields.findIndex((f) => f[0] === 0xa3);
    const list = parts(fields[extensionsIndex]!)[0]!;
    const patched = parts(list).map((extension) => {
      const [id, ...rest] = parts(extension);
      if (!id!.equals(Buffer.from([0x06, 0x03, 0x55, 0x1d, 0x0f]))) return extension;
      // digitalSignature, with the 7 unused bits not all zero.
      return tlv(0x30, Buffer.concat([id!, ...rest.slice(0, -1), tlv(0x04, Buffer.from([0x03, 0x02, 0x07, 0x81]))]));
    });
    fields[extensionsIndex] = tlv(0xa3, tlv(0x30, Buffer.concat(patched)));
    expect(refusalOf(new TrustStore(ca.certPem), signedByStackCa(fields, client()), 'leaf-client')).toBe('malformed');
  });

  it('refuses unique identifiers out of order or repeated', () => {
    const fields = tbsOf(client());
    const extensionsIndex = fields.findIndex((f) => f[0] === 0xa3);
    const uniqueId = (tag: number) => tlv(tag, Buffer.from([0x00, 0x01]));
    const variants = [
      [uniqueId(0x82), uniqueId(0x81)],
      [uniqueId(0x81), uniqueId(0x81)],
    ];
    for (const ids of variants) {
      const reordered = [...fields.slice(0, extensionsIndex), ...ids, fields[extensionsIndex]!];
      expect(refusalOf(new TrustStore(ca.certPem), signedByStackCa(reordered, client()), 'leaf-client')).toBe('malformed');
    }
    const inOrder = [...fields.slice(0, extensionsIndex), uniqueId(0x81), uniqueId(0x82), fields[extensionsIndex]!];
    expect(refusalOf(new TrustStore(ca.certPem), signedByStackCa(inOrder, client()), 'leaf-client')).toBe('accepted');
  });

  it('refuses a GeneralizedTime before 1950 instead of reading year 0049 as 1949', () => {
    const fields = tbsOf(client());
    const validityIndex = fields.findIndex((f) => f[0] === 0x30 && parts(f).every((t) => t[0] === 0x17 || t[0] === 0x18));
    const [, notAfter] = parts(fields[validityIndex]!);
    fields[validityIndex] = tlv(0x30, Buffer.concat([tlv(0x18, Buffer.from('00490101000000Z')), notAfter!]));
    expect(refusalOf(new TrustStore(ca.certPem), signedByStackCa(fields, client()), 'leaf-client')).toBe('malformed');
  });

  it('refuses an RSA key with exponent 1 or with parameters other than NULL', () => {
    const rsa = certificates.find((c) => c.label === '@peculiar RSA client')!.der;
    const fields = tbsOf(rsa);
    const spkiIndex = fields.findIndex((f) => f[0] === 0x30 && parts(f)[1]?.[0] === 0x03);
    const [algorithm, key] = parts(fields[spkiIndex]!);
    const rsaKey = readCertificate(rsa).publicKey.bits;
    const [n] = parts(rsaKey);
    const withExponent = (e: number[]) =>
      tlv(0x30, Buffer.concat([algorithm!, tlv(0x03, Buffer.concat([Buffer.from([0]), tlv(0x30, Buffer.concat([n!, tlv(0x02, Buffer.from(e))]))]))]));
    const build = (spki: Buffer) => signedByStackCa(fields.map((f, i) => (i === spkiIndex ? spki : f)), rsa);
    expect(refusalOf(new TrustStore(ca.certPem), build(withExponent([0x01, 0x00, 0x01])), 'rsa-device')).toBe('accepted');
    expect(refusalOf(new TrustStore(ca.certPem), build(withExponent([0x01])), 'rsa-device')).toBe('malformed');
    expect(refusalOf(new TrustStore(ca.certPem), build(withExponent([0x01, 0x00, 0x00])), 'rsa-device')).toBe('malformed');
    const [oid] = parts(algorithm!);
    const oddParameters = tlv(0x30, Buffer.concat([tlv(0x30, Buffer.concat([oid!, Buffer.from([0x05, 0x02, 0x04, 0x08])])), key!]));
    expect(refusalOf(new TrustStore(ca.certPem), build(oddParameters), 'rsa-device')).toBe('malformed');
  });

  it('does not decode the key of a certificate the CA did not sign', () => {
    // An unsigned certificate whose key no decoder could read: refused for its issuer, never `malformed`.
    const fields = tbsOf(client());
    const spkiIndex = fields.findIndex((f) => f[0] === 0x30 && parts(f)[1]?.[0] === 0x03);
    const ed25519 = tlv(0x30, Buffer.concat([tlv(0x30, tlv(0x06, Buffer.from([0x2b, 0x65, 0x70]))), tlv(0x03, Buffer.from([0, 1, 2, 3]))]));
    const tbs = tlv(0x30, Buffer.concat(fields.map((f, i) => (i === spkiIndex ? ed25519 : f))));
    const [, algorithm, signature] = parts(client());
    const unsigned = tlv(0x30, Buffer.concat([tbs, algorithm!, signature!]));
    expect(refusalOf(new TrustStore(ca.certPem), unsigned, 'leaf-client')).toBe('untrusted-certificate');
    expect(refusalOf(new TrustStore(ca.certPem), signedByStackCa(fields.map((f, i) => (i === spkiIndex ? ed25519 : f)), client()), 'leaf-client')).toBe('malformed');
  });
});
