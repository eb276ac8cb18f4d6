import { X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CertificateAuthority } from '../../local/throwaway-pki.js';
import { issueRevocationList, normalizeSerial, readRevocationList, RevocationListError, revocationWindow } from '../../revocation/index.js';

const DAY = 86_400_000;
let ca: CertificateAuthority;
let rsaCa: { credential: { certPem: string; keyPem: string } };
let device: { certPem: string; serial: string };

beforeAll(async () => {
  ca = await CertificateAuthority.create('revocation-test-ca');
  rsaCa = { credential: opensslRsaCa() };
  const issued = await ca.issue({ commonName: 'sensor-0001', usage: 'client' });
  device = { certPem: issued.certPem, serial: new X509Certificate(issued.certPem).serialNumber };
});

/** An RSA CA made by OpenSSL itself (the throw-away PKI only makes ECDSA CAs). */
function opensslRsaCa(): { certPem: string; keyPem: string } {
  const dir = mkdtempSync(join(tmpdir(), 'rsa-ca-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.crt'), '-subj', '/CN=revocation-test-rsa-ca',
    '-days', '30', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], { stdio: 'ignore' });
  return { certPem: readFileSync(join(dir, 'ca.crt'), 'utf8'), keyPem: readFileSync(join(dir, 'ca.key'), 'utf8') };
}

function request(authority: { credential: { certPem: string; keyPem: string } }, serials: string[], now = new Date('2026-12-03T12:00:00Z')) {
  return {
    issuerCertPem: authority.credential.certPem,
    issuerKeyPem: authority.credential.keyPem,
    revoked: serials.map((serialNumber) => ({ serialNumber, revokedAt: new Date('2026-12-01T00:00:00Z'), reason: 'keyCompromise' as const })),
    ...revocationWindow(now, 7),
  };
}

describe('revocationWindow', () => {
  it('is the same all through one period, and always leaves at least one period of validity', () => {
    const a = revocationWindow(new Date('2026-12-03T00:00:01Z'), 7);
    const b = revocationWindow(new Date(a.thisUpdate.getTime() + 7 * DAY - 1), 7);
    expect(b).toEqual(a);
    const next = revocationWindow(new Date(a.thisUpdate.getTime() + 7 * DAY), 7);
    expect(next.thisUpdate.getTime()).toBe(a.thisUpdate.getTime() + 7 * DAY);
    expect(a.nextUpdate.getTime() - (a.thisUpdate.getTime() + 7 * DAY - 1)).toBeGreaterThan(7 * DAY - 1000);
    expect(() => revocationWindow(new Date(), 0)).toThrow(RangeError);
  });
});

describe('issueRevocationList', () => {
  it('gives the same bytes for the same inputs (ECDSA and RSA), and different ones when a serial is added', async () => {
    for (const authority of [ca, rsaCa]) {
      const first = await issueRevocationList(request(authority, [device.serial]));
      expect(await issueRevocationList(request(authority, [device.serial]))).toBe(first);
      expect(await issueRevocationList(request(authority, [device.serial, '0A1B']))).not.toBe(first);
    }
  });

  it('is a CRL OpenSSL reads and verifies against the CA, listing the revoked serial', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'crl-'));
    writeFileSync(join(dir, 'crl.pem'), await issueRevocationList(request(ca, [device.serial])));
    writeFileSync(join(dir, 'ca.crt'), ca.credential.certPem);
    const text = execFileSync('openssl', ['crl', '-in', join(dir, 'crl.pem'), '-CAfile', join(dir, 'ca.crt'), '-noout', '-text'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(text).toContain(`Serial Number: ${device.serial}`);
    expect(text).toContain('Key Compromise');
    expect(text).toMatch(/X509v3 CRL Number:\s+\d+/);
    const verified = execFileSync('openssl', ['crl', '-in', join(dir, 'crl.pem'), '-CAfile', join(dir, 'ca.crt'), '-noout'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(verified).toBe('');
  });

  it('lists a serial once however often and however written it is given', async () => {
    const pem = await issueRevocationList(request(ca, [device.serial, device.serial.toLowerCase(), `0x00${device.serial}`]));
    const list = await readRevocationList(pem, ca.credential.certPem, new Date('2026-12-03T12:00:00Z'));
    expect([...list.revokedSerials]).toEqual([normalizeSerial(device.serial)]);
  });

  it('refuses a key that is not the CA key', async () => {
    const other = await CertificateAuthority.create('other-ca');
    await expect(issueRevocationList({ ...request(ca, []), issuerKeyPem: other.credential.keyPem })).rejects.toThrow(/does not match/);
  });
});

describe('readRevocationList', () => {
  const now = new Date('2026-12-03T12:00:00Z');

  it('returns the revoked serials of a current CRL signed by the CA', async () => {
    const list = await readRevocationList(await issueRevocationList(request(ca, [device.serial])), ca.credential.certPem, now);
    expect([...list.revokedSerials]).toEqual([normalizeSerial(device.serial)]);
  });

  it('refuses, with a code: expired, another issuer, a forged signature, garbage', async () => {
    const pem = await issueRevocationList(request(ca, [device.serial]));
    const code = async (promise: Promise<unknown>) => promise.then(() => 'accepted', (e: RevocationListError) => e.code);
    expect(await code(readRevocationList(pem, ca.credential.certPem, new Date(now.getTime() + 30 * DAY)))).toBe('expired');
    expect(await code(readRevocationList(pem, rsaCa.credential.certPem, now))).toBe('wrong-issuer');
    const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    der[der.length - 5]! ^= 0x01;
    const forged = `-----BEGIN X509 CRL-----\n${der.toString('base64')}\n-----END X509 CRL-----\n`;
    expect(await code(readRevocationList(forged, ca.credential.certPem, now))).toBe('bad-signature');
    expect(await code(readRevocationList('not a crl', ca.credential.certPem, now))).toBe('malformed-crl');
  });

  it('normalizes serials written with colons, 0x or leading zeros', () => {
    expect(normalizeSerial('0x00:0a:1b')).toBe('0A1B');
    expect(normalizeSerial('a1b')).toBe('0A1B');
    // openssl -text prints a 20-byte serial with a high first bit behind a 00 byte.
    expect(normalizeSerial(`00:${'ab:'.repeat(19)}ab`)).toBe('AB'.repeat(20));
    expect(() => normalizeSerial('AB'.repeat(21))).toThrow(/20 bytes/);
    expect(() => normalizeSerial('xyz')).toThrow(/serial/);
  });
});
