import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { KEY_USAGE, keyUsageFlags } from '../../protocol/der-key-usage.js';
import { pemToDer } from '../../protocol/certificates.js';
import { CertificateAuthority, type LeafUsage } from '../../local/throwaway-pki.js';

let ca: CertificateAuthority;
beforeAll(async () => {
  ca = await CertificateAuthority.create('der-test');
});

describe('keyUsage read from DER', () => {
  it('agrees with a full ASN.1 parser for every kind of certificate the stack issues', async () => {
    const usages: LeafUsage[] = ['server', 'client', 'key-agreement', 'key-encipherment', 'client-without-client-auth'];
    const ders = [pemToDer(ca.certPem), ...(await Promise.all(usages.map((usage) => ca.issue({ commonName: 'x', usage })))).map((c) => pemToDer(c.certPem))];
    for (const der of ders) {
      const reference = new x509.X509Certificate(der).getExtension(x509.KeyUsagesExtension)?.usages;
      expect(keyUsageFlags(der)).toBe(reference);
    }
    expect(keyUsageFlags(pemToDer(ca.certPem))).toBe(KEY_USAGE.keyCertSign | KEY_USAGE.cRLSign);
  });

  it('throws nothing but RangeError on truncated input', async () => {
    const der = pemToDer((await ca.issue({ commonName: 'x', usage: 'client' })).certPem);
    fc.assert(
      fc.property(fc.nat(der.length - 1), (cut) => {
        try {
          keyUsageFlags(der.subarray(0, cut));
        } catch (error) {
          expect(error).toBeInstanceOf(RangeError);
        }
      }),
    );
  });
});
