import { describe, expect, it } from 'vitest';
import { tlsCertificateRoles } from '../../policies/tls-certificate-roles.js';
import { tlsKeyStrength } from '../../policies/tls-key-strength.js';
import { resource, violations } from './policy-args.js';
import { emulateCertRequest, emulatePrivateKey } from '../../infra/mocks/tls-emulation.js';

const key = (inputs: Record<string, unknown>) => resource('tls:index/privateKey:PrivateKey', inputs);
const leaf = (inputs: Record<string, unknown>) => resource('tls:index/locallySignedCert:LocallySignedCert', { validityPeriodHours: 720, earlyRenewalHours: 24, ...inputs });

async function request(hosts: boolean): Promise<string> {
  const k = emulatePrivateKey({ algorithm: 'ECDSA', ecdsaCurve: 'P256' });
  const csr = await emulateCertRequest({ privateKeyPem: k.privateKeyPem, subject: { commonName: 'x' }, ...(hosts ? { dnsNames: ['broker'] } : {}) });
  return String(csr.certRequestPem);
}

describe('tls-key-strength', () => {
  it('passes P-256 and RSA 2048+, refuses the P-224 default and short RSA', async () => {
    expect(await violations(tlsKeyStrength, [key({ algorithm: 'ECDSA', ecdsaCurve: 'P256' }), key({ algorithm: 'RSA', rsaBits: 3072 })])).toEqual([]);
    expect(await violations(tlsKeyStrength, [key({ algorithm: 'ECDSA' })])).toEqual([expect.stringContaining('P224 (the provider default)')]);
    expect(await violations(tlsKeyStrength, [key({ algorithm: 'RSA', rsaBits: 1024 })])).toEqual(['RSA key of 1024 bits; at least 2048 required.']);
    expect(await violations(tlsKeyStrength, [key({ algorithm: 'RSA', rsaBits: 2048 })], { minRsaBits: 3072 })).toHaveLength(1);
  });
});

describe('tls-certificate-roles', () => {
  it('passes a CA with cert_signing, a server leaf with server_auth, a client leaf with client_auth', async () => {
    const ca = resource('tls:index/selfSignedCert:SelfSignedCert', { isCaCertificate: true, allowedUses: ['cert_signing', 'crl_signing'] });
    const server = leaf({ certRequestPem: await request(true), allowedUses: ['digital_signature', 'key_encipherment', 'server_auth'] });
    const client = leaf({ certRequestPem: await request(false), allowedUses: ['digital_signature', 'client_auth'] });
    const keyAgreement = leaf({ certRequestPem: await request(false), allowedUses: ['key_agreement'] });
    expect(await violations(tlsCertificateRoles, [ca, server, client, keyAgreement])).toEqual([]);
  });

  it('refuses a CA that cannot sign, a leaf CA, a leaf valid too long, and missing server/client usage', async () => {
    expect(await violations(tlsCertificateRoles, [resource('tls:index/selfSignedCert:SelfSignedCert', { isCaCertificate: true, allowedUses: ['digital_signature'] })])).toHaveLength(1);
    const clientRequest = await request(false);
    expect(await violations(tlsCertificateRoles, [leaf({ certRequestPem: clientRequest, isCaCertificate: true, allowedUses: ['cert_signing'] })])).toEqual([
      'A leaf certificate must not be a CA or sign certificates.',
    ]);
    expect(await violations(tlsCertificateRoles, [leaf({ certRequestPem: clientRequest, allowedUses: ['digital_signature', 'client_auth'], validityPeriodHours: 800 * 24 })])).toEqual([
      'Leaf valid for 800 days; at most 397.',
    ]);
    expect(await violations(tlsCertificateRoles, [leaf({ certRequestPem: await request(true), allowedUses: ['digital_signature', 'client_auth'] })])).toEqual([
      expect.stringContaining('without server_auth'),
    ]);
    expect(await violations(tlsCertificateRoles, [leaf({ certRequestPem: clientRequest, allowedUses: ['digital_signature'] })])).toEqual([expect.stringContaining('without client_auth')]);
  });
});
