import { beforeAll, describe, expect, it } from 'vitest';
import { CertificateAuthority } from '../../local/throwaway-pki.js';
import { mosquittoRevocationList } from '../../policies/mosquitto-revocation-list.js';
import { issueRevocationList } from '../../revocation/index.js';
import { appContainer, brokerContainer, goodConf, violations } from './policy-args.js';

const DAY = 86_400_000;
const CRL_CONF = goodConf({ crlFile: '/mosquitto/certs/crl.pem' });
let ca: CertificateAuthority;
let other: CertificateAuthority;

const crl = (authority: CertificateAuthority, nextUpdateInMs: number) =>
  issueRevocationList({
    issuerCertPem: authority.credential.certPem,
    issuerKeyPem: authority.credential.keyPem,
    revoked: [],
    thisUpdate: new Date(Date.now() - DAY),
    nextUpdate: new Date(Date.now() + nextUpdateInMs),
  });

/** The broker as the program declares it: configuration, CA and CRL uploaded together. */
function broker(crlPem: string | undefined, conf = CRL_CONF) {
  return brokerContainer({
    conf,
    extra: [
      { file: '/mosquitto/certs/ca.crt', content: ca.credential.certPem },
      ...(crlPem === undefined ? [] : [{ file: '/mosquitto/certs/crl.pem', content: crlPem }]),
    ],
  });
}

beforeAll(async () => {
  ca = await CertificateAuthority.create('policy-test-ca');
  other = await CertificateAuthority.create('other-ca');
});

describe('mosquitto-revocation-list', () => {
  it('passes a current CRL signed by the CA, and ignores containers that are not Mosquitto', async () => {
    expect(await violations(mosquittoRevocationList, [broker(await crl(ca, 7 * DAY)), appContainer()])).toEqual([]);
  });

  it('refuses a listener without crlfile, and a crlfile that is not uploaded', async () => {
    expect(await violations(mosquittoRevocationList, [broker(undefined, CRL_CONF.replace(/^crlfile .*\n/m, ''))])).toEqual([
      expect.stringContaining('sets no crlfile'),
    ]);
    expect(await violations(mosquittoRevocationList, [broker(undefined)])).toEqual([expect.stringContaining('which is not uploaded')]);
  });

  it('refuses an expired CRL, one that expires within the configured margin, and one from another CA', async () => {
    expect(await violations(mosquittoRevocationList, [broker(await crl(ca, -60_000))])).toEqual([expect.stringMatching(/unusable \(expired\).*run `pulumi up`/)]);
    const soon = broker(await crl(ca, 12 * 3_600_000));
    expect(await violations(mosquittoRevocationList, [soon])).toEqual([expect.stringContaining('(expired)')]);
    expect(await violations(mosquittoRevocationList, [soon], { minimumRemainingHours: 6 })).toEqual([]);
    expect(await violations(mosquittoRevocationList, [broker(await crl(other, 7 * DAY))])).toEqual([expect.stringContaining('(wrong-issuer)')]);
    // Issued in the future (a clock off by hours): OpenSSL would refuse every client until then.
    const early = await issueRevocationList({ issuerCertPem: ca.credential.certPem, issuerKeyPem: ca.credential.keyPem, revoked: [], thisUpdate: new Date(Date.now() + 6 * 3_600_000), nextUpdate: new Date(Date.now() + 7 * DAY) });
    expect(await violations(mosquittoRevocationList, [broker(early)])).toEqual([expect.stringContaining('(not-yet-valid)')]);
  });
});
