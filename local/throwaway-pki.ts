import 'reflect-metadata';
import { createPrivateKey, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

/**
 * A throw-away PKI for the local stack and the tests, shaped like the one the Pulumi program declares
 * with @pulumi/tls: an ECDSA P-256 CA, and leaves with explicit usages, never CAs themselves.
 */
type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
const subtle = webcrypto.subtle;

export type KeyAlgorithm = 'ecdsa-p256' | 'rsa-2048' | 'rsa-3072' | 'rsa-4096';
export type LeafUsage = 'server' | 'client' | 'key-agreement' | 'key-encipherment' | 'client-without-client-auth';

export interface Credential {
  certPem: string;
  keyPem: string;
}

export interface LeafRequest {
  commonName: string;
  usage: LeafUsage;
  keyAlgorithm?: KeyAlgorithm;
  dnsNames?: string[];
  ipAddresses?: string[];
  notBefore?: Date;
  notAfter?: Date;
}

const DAY_MS = 86_400_000;

function keyParams(algorithm: KeyAlgorithm): webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams {
  if (algorithm === 'ecdsa-p256') return { name: 'ECDSA', namedCurve: 'P-256' };
  const bits = Number(algorithm.slice(4));
  return { name: 'RSASSA-PKCS1-v1_5', modulusLength: bits, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' };
}

async function generateKeys(algorithm: KeyAlgorithm): Promise<CryptoKeyPair> {
  return (await subtle.generateKey(keyParams(algorithm), true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function privateKeyPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await subtle.exportKey('pkcs8', key));
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN PRIVATE KEY-----\n${lines.join('\n')}\n-----END PRIVATE KEY-----\n`;
}

function leafExtensions(request: LeafRequest): x509.Extension[] {
  const { KeyUsageFlags: F, ExtendedKeyUsage: E } = x509;
  const usage: Record<LeafUsage, [number, string[]]> = {
    server: [F.digitalSignature | F.keyEncipherment, [E.serverAuth]],
    client: [F.digitalSignature, [E.clientAuth]],
    'client-without-client-auth': [F.digitalSignature, [E.serverAuth]],
    'key-agreement': [F.keyAgreement, []],
    'key-encipherment': [F.keyEncipherment, []],
  };
  const [flags, ekus] = usage[request.usage];
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(flags, true),
  ];
  if (ekus.length > 0) extensions.push(new x509.ExtendedKeyUsageExtension(ekus, false));
  const names = [
    ...(request.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(request.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names, false));
  return extensions;
}

export class CertificateAuthority {
  private constructor(
    private readonly keys: CryptoKeyPair,
    private readonly certificate: x509.X509Certificate,
    readonly credential: Credential,
    private readonly leafValidityDays: number,
  ) {}

  /** A CA from existing PEM (e.g. the stack's, to mint test identities). EC P-256 or RSA keys. */
  static async fromPem(certPem: string, keyPem: string, leafValidityDays = 30): Promise<CertificateAuthority> {
    const keyObject = createPrivateKey(keyPem);
    const params =
      keyObject.asymmetricKeyType === 'ec'
        ? { name: 'ECDSA', namedCurve: 'P-256' }
        : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    const privateKey = await subtle.importKey('pkcs8', keyObject.export({ type: 'pkcs8', format: 'der' }), params, true, ['sign']);
    const certificate = new x509.X509Certificate(certPem);
    const publicKey = await certificate.publicKey.export(params, ['verify']);
    return new CertificateAuthority({ privateKey, publicKey } as CryptoKeyPair, certificate, { certPem, keyPem }, leafValidityDays);
  }

  static async create(commonName: string, validityDays = 3650, leafValidityDays = 30): Promise<CertificateAuthority> {
    const keys = await generateKeys('ecdsa-p256');
    const now = Date.now();
    const certificate = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: randomSerial(),
      name: `CN=${commonName}, O=secure-mqtt-stack`,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + validityDays * DAY_MS),
      keys,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    const credential = { certPem: certificate.toString('pem'), keyPem: await privateKeyPem(keys.privateKey) };
    return new CertificateAuthority(keys, certificate, credential, leafValidityDays);
  }

  get certPem(): string {
    return this.credential.certPem;
  }

  async issue(request: LeafRequest): Promise<Credential> {
    const keys = await generateKeys(request.keyAlgorithm ?? 'ecdsa-p256');
    const now = Date.now();
    const certificate = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(),
      subject: `CN=${request.commonName}`,
      issuer: this.certificate.subject,
      notBefore: request.notBefore ?? new Date(now - 60_000),
      notAfter: request.notAfter ?? new Date(now + this.leafValidityDays * DAY_MS),
      publicKey: keys.publicKey,
      signingKey: this.keys.privateKey,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      extensions: [
        ...leafExtensions(request),
        await x509.AuthorityKeyIdentifierExtension.create(this.certificate),
      ],
    });
    return { certPem: certificate.toString('pem'), keyPem: await privateKeyPem(keys.privateKey) };
  }
}

function randomSerial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] ?? 0) & 0x7f; // positive INTEGER
  return Buffer.from(bytes).toString('hex');
}
