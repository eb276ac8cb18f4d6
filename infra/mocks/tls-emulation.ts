import 'reflect-metadata';
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, webcrypto, type KeyObject } from 'node:crypto';
import * as x509 from '@peculiar/x509';

/**
 * The @pulumi/tls provider emulated with real cryptography, for running the program without the
 * Pulumi engine: real keys, a real PKCS#10 request, and real X.509 certificates signed by the
 * emulated CA with the requested subject, SANs, usages and validity. Defaults follow the provider's
 * (ECDSA without a curve is P-224; RSA without bits is 2048); key PEM formats match it too
 * (PKCS#1 for RSA, SEC1 for EC, plus a PKCS#8 copy).
 */
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
const subtle = webcrypto.subtle;
type Inputs = Record<string, unknown>;

const CURVES: Record<string, string> = { P224: 'secp224r1', P256: 'prime256v1', P384: 'secp384r1', P521: 'secp521r1' };
const WEB_CURVES: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };

export function emulatePrivateKey(inputs: Inputs): Inputs {
  const algorithm = String(inputs.algorithm ?? '');
  let privateKey: KeyObject;
  if (algorithm === 'RSA') {
    privateKey = generateKeyPairSync('rsa', { modulusLength: Number(inputs.rsaBits ?? 2048) }).privateKey;
  } else if (algorithm === 'ECDSA') {
    const curve = CURVES[String(inputs.ecdsaCurve ?? 'P224')];
    if (!curve) throw new Error(`tls emulation: unknown ecdsaCurve ${String(inputs.ecdsaCurve)}`);
    privateKey = generateKeyPairSync('ec', { namedCurve: curve }).privateKey;
  } else if (algorithm === 'ED25519') {
    privateKey = generateKeyPairSync('ed25519').privateKey;
  } else {
    throw new Error(`tls emulation: unsupported algorithm ${algorithm}`);
  }
  const publicKey = createPublicKey(privateKey);
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  return {
    ...inputs,
    ecdsaCurve: algorithm === 'ECDSA' ? (inputs.ecdsaCurve ?? 'P224') : inputs.ecdsaCurve,
    rsaBits: algorithm === 'RSA' ? (inputs.rsaBits ?? 2048) : inputs.rsaBits,
    privateKeyPem:
      algorithm === 'RSA'
        ? privateKey.export({ type: 'pkcs1', format: 'pem' })
        : algorithm === 'ECDSA'
          ? privateKey.export({ type: 'sec1', format: 'pem' })
          : privateKey.export({ type: 'pkcs8', format: 'pem' }),
    privateKeyPemPkcs8: privateKey.export({ type: 'pkcs8', format: 'pem' }),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }),
    publicKeyFingerprintSha256: `SHA256:${createHash('sha256').update(spki).digest('base64').replace(/=+$/, '')}`,
  };
}

/** Imports a PEM private key into WebCrypto for signing, with the matching public key. */
async function signingPair(pem: string): Promise<{ keys: webcrypto.CryptoKeyPair; algorithm: webcrypto.EcdsaParams | webcrypto.Algorithm }> {
  const keyObject = createPrivateKey(pem);
  const pkcs8 = keyObject.export({ type: 'pkcs8', format: 'der' });
  const spki = createPublicKey(keyObject).export({ type: 'spki', format: 'der' });
  let params: webcrypto.EcKeyImportParams | webcrypto.RsaHashedImportParams;
  let algorithm: webcrypto.EcdsaParams | webcrypto.Algorithm;
  if (keyObject.asymmetricKeyType === 'ec') {
    const namedCurve = WEB_CURVES[keyObject.asymmetricKeyDetails?.namedCurve ?? ''];
    if (!namedCurve) throw new Error(`tls emulation: cannot sign with curve ${keyObject.asymmetricKeyDetails?.namedCurve} (WebCrypto has no P-224)`);
    params = { name: 'ECDSA', namedCurve };
    algorithm = { name: 'ECDSA', hash: 'SHA-256' };
  } else if (keyObject.asymmetricKeyType === 'rsa') {
    params = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    algorithm = { name: 'RSASSA-PKCS1-v1_5' };
  } else {
    throw new Error(`tls emulation: cannot sign with ${keyObject.asymmetricKeyType}`);
  }
  const privateKey = await subtle.importKey('pkcs8', pkcs8, params, true, ['sign']);
  const publicKey = await subtle.importKey('spki', spki, params, true, ['verify']);
  return { keys: { privateKey, publicKey }, algorithm };
}

/** Distinguished name from the provider's `subject` block. */
function distinguishedName(subject: Inputs | undefined): string {
  const fields: [string, string][] = [
    ['commonName', 'CN'],
    ['organization', 'O'],
    ['organizationalUnit', 'OU'],
    ['country', 'C'],
    ['province', 'ST'],
    ['locality', 'L'],
  ];
  const parts = fields.flatMap(([key, short]) => (subject?.[key] ? [`${short}=${String(subject[key])}`] : []));
  return parts.join(', ') || 'CN=';
}

function sanExtension(inputs: Inputs): x509.Extension[] {
  const names = [
    ...((inputs.dnsNames as string[] | undefined) ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...((inputs.ipAddresses as string[] | undefined) ?? []).map((value) => ({ type: 'ip' as const, value })),
    ...((inputs.uris as string[] | undefined) ?? []).map((value) => ({ type: 'url' as const, value })),
  ];
  return names.length ? [new x509.SubjectAlternativeNameExtension(names, false)] : [];
}

const KEY_USAGE: Record<string, number> = {
  digital_signature: x509.KeyUsageFlags.digitalSignature,
  content_commitment: x509.KeyUsageFlags.nonRepudiation,
  key_encipherment: x509.KeyUsageFlags.keyEncipherment,
  data_encipherment: x509.KeyUsageFlags.dataEncipherment,
  key_agreement: x509.KeyUsageFlags.keyAgreement,
  cert_signing: x509.KeyUsageFlags.keyCertSign,
  crl_signing: x509.KeyUsageFlags.cRLSign,
  encipher_only: x509.KeyUsageFlags.encipherOnly,
  decipher_only: x509.KeyUsageFlags.decipherOnly,
};
const EXT_KEY_USAGE: Record<string, string> = {
  any_extended: '2.5.29.37.0',
  server_auth: x509.ExtendedKeyUsage.serverAuth,
  client_auth: x509.ExtendedKeyUsage.clientAuth,
  code_signing: x509.ExtendedKeyUsage.codeSigning,
  email_protection: x509.ExtendedKeyUsage.emailProtection,
  timestamping: x509.ExtendedKeyUsage.timeStamping,
  ocsp_signing: x509.ExtendedKeyUsage.ocspSigning,
};

/** Extensions the provider derives from `allowed_uses` and `is_ca_certificate`. */
function usageExtensions(inputs: Inputs): x509.Extension[] {
  const uses = (inputs.allowedUses as string[] | undefined) ?? [];
  for (const use of uses) {
    if (!(use in KEY_USAGE) && !(use in EXT_KEY_USAGE)) throw new Error(`tls emulation: unknown allowed use ${use}`);
  }
  const flags = uses.reduce((acc, use) => acc | (KEY_USAGE[use] ?? 0), 0);
  const ekus = uses.flatMap((use) => (EXT_KEY_USAGE[use] ? [EXT_KEY_USAGE[use]] : []));
  const extensions: x509.Extension[] = [new x509.BasicConstraintsExtension(Boolean(inputs.isCaCertificate), undefined, true)];
  if (flags) extensions.push(new x509.KeyUsagesExtension(flags, true));
  if (ekus.length) extensions.push(new x509.ExtendedKeyUsageExtension(ekus, false));
  return extensions;
}

function validity(inputs: Inputs, now = Date.now()) {
  const hours = Number(inputs.validityPeriodHours);
  if (!Number.isFinite(hours) || hours <= 0) throw new Error('tls emulation: validityPeriodHours is required');
  const notBefore = new Date(Math.floor(now / 1000) * 1000);
  const notAfter = new Date(notBefore.getTime() + hours * 3_600_000);
  return { notBefore, notAfter, outputs: { validityStartTime: notBefore.toISOString(), validityEndTime: notAfter.toISOString(), readyForRenewal: false } };
}

function serial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return Buffer.from(bytes).toString('hex');
}

export async function emulateSelfSignedCert(inputs: Inputs): Promise<Inputs> {
  const { keys, algorithm } = await signingPair(String(inputs.privateKeyPem));
  const { notBefore, notAfter, outputs } = validity(inputs);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: distinguishedName(inputs.subject as Inputs),
    notBefore,
    notAfter,
    keys,
    signingAlgorithm: algorithm,
    extensions: [...usageExtensions(inputs), ...sanExtension(inputs), await x509.SubjectKeyIdentifierExtension.create(keys.publicKey)],
  });
  return { ...inputs, certPem: cert.toString('pem'), ...outputs };
}

export async function emulateCertRequest(inputs: Inputs): Promise<Inputs> {
  const { keys, algorithm } = await signingPair(String(inputs.privateKeyPem));
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: distinguishedName(inputs.subject as Inputs),
    keys,
    signingAlgorithm: algorithm,
    extensions: sanExtension(inputs),
  });
  return { ...inputs, certRequestPem: csr.toString('pem') };
}

export async function emulateLocallySignedCert(inputs: Inputs): Promise<Inputs> {
  const csr = new x509.Pkcs10CertificateRequest(String(inputs.certRequestPem));
  if (!(await csr.verify())) throw new Error('tls emulation: certificate request signature does not verify');
  const ca = new x509.X509Certificate(String(inputs.caCertPem));
  const { keys: caKeys, algorithm } = await signingPair(String(inputs.caPrivateKeyPem));
  const { notBefore, notAfter, outputs } = validity(inputs);
  const san = csr.getExtension('2.5.29.17'); // subjectAltName, carried over from the request
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: csr.subject,
    issuer: ca.subject,
    notBefore,
    notAfter,
    publicKey: csr.publicKey,
    signingKey: caKeys.privateKey,
    signingAlgorithm: algorithm,
    extensions: [...usageExtensions(inputs), ...(san ? [san] : []), await x509.AuthorityKeyIdentifierExtension.create(ca)],
  });
  return { ...inputs, certPem: cert.toString('pem'), caKeyAlgorithm: ca.publicKey.algorithm.name, ...outputs };
}
