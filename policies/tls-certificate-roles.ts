import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { validateResourceOfType, type ResourceValidationPolicy } from '@pulumi/policy';
import * as tls from '@pulumi/tls';

const SAN_OID = '2.5.29.17';

/** True when the certificate request names hosts (DNS or IP SANs): a server certificate. */
function requestNamesHosts(csrPem: string): boolean {
  try {
    const csr = new x509.Pkcs10CertificateRequest(csrPem);
    const extension = csr.getExtension(SAN_OID);
    if (!extension) return false;
    const san = new x509.SubjectAlternativeNameExtension(extension.rawData);
    return san.names.items.some((name) => name.type === 'dns' || name.type === 'ip');
  } catch {
    return false;
  }
}

/** Mandatory: each certificate does exactly its job, for a bounded time. */
export const tlsCertificateRoles: ResourceValidationPolicy = {
  name: 'tls-certificate-roles',
  description:
    'A CA certificate has isCaCertificate and cert_signing; a locally signed (leaf) certificate is not a CA and is valid for ' +
    'at most maxLeafValidityDays (default 397); a leaf whose request names hosts carries server_auth; a signing leaf ' +
    'without host names (a client) carries client_auth.',
  enforcementLevel: 'mandatory',
  configSchema: { properties: { maxLeafValidityDays: { type: 'integer', default: 397, minimum: 1 } } },
  validateResource: [
    validateResourceOfType(tls.SelfSignedCert, (cert, _args, reportViolation) => {
      if (cert.isCaCertificate && !(cert.allowedUses ?? []).includes('cert_signing')) {
        reportViolation('CA certificate without cert_signing in allowedUses.');
      }
    }),
    validateResourceOfType(tls.LocallySignedCert, (cert, args, reportViolation) => {
      const { maxLeafValidityDays = 397 } = args.getConfig<{ maxLeafValidityDays?: number }>();
      const uses = cert.allowedUses ?? [];
      if (cert.isCaCertificate || uses.includes('cert_signing')) reportViolation('A leaf certificate must not be a CA or sign certificates.');
      if (cert.validityPeriodHours > maxLeafValidityDays * 24) {
        reportViolation(`Leaf valid for ${Math.round(cert.validityPeriodHours / 24)} days; at most ${maxLeafValidityDays}.`);
      }
      if (requestNamesHosts(cert.certRequestPem)) {
        if (!uses.includes('server_auth')) reportViolation('Server certificate (its request names hosts) without server_auth.');
      } else if (uses.includes('digital_signature') && !uses.includes('client_auth')) {
        reportViolation('Client certificate (signing, no host names) without client_auth.');
      }
    }),
  ],
};
