import { X509Certificate } from 'node:crypto';
import * as pulumi from '@pulumi/pulumi';
import * as tls from '@pulumi/tls';
import { isValidDeviceId } from '../../protocol/topics.js';
import { issueRevocationList, revocationWindow } from '../../revocation/index.js';
import type { KeyAlgorithm } from '../stack-config.js';

/** A key pair and its CA-issued certificate; the key is a Pulumi secret. */
export interface IssuedCertificate {
  certPem: pulumi.Output<string>;
  keyPem: pulumi.Output<string>;
}

export interface PkiArgs {
  /** Goes into every subject's organisation, so certificates of different stacks are told apart. */
  stackName: string;
  keyAlgorithm: KeyAlgorithm;
  caValidityDays: number;
  leafValidityDays: number;
  earlyRenewalHours: number;
  /** Names the broker is reached by: its network alias, plus localhost and 127.0.0.1. */
  brokerHostNames: string[];
  serviceIdentity: string;
  deviceIds: string[];
  /** The first this many devices get RSA-3072 keys (RSA-OAEP devices); growing the fleet never changes them. */
  rsaDeviceCount: number;
  crlPeriodDays: number;
  /** Devices whose current certificates the CRL revokes. */
  revokedDevices: string[];
  /** Serials revoked besides those (certificates the program no longer holds). */
  revokedSerials: string[];
  /** The program's clock; a parameter so tests can pin it. */
  now?: Date;
}

function keyArgs(algorithm: KeyAlgorithm): tls.PrivateKeyArgs {
  // Never the provider's ECDSA default curve (P-224): P-256 is named explicitly.
  return algorithm === 'ecdsa-p256' ? { algorithm: 'ECDSA', ecdsaCurve: 'P256' } : { algorithm: 'RSA', rsaBits: Number(algorithm.slice(4)) };
}

const CLIENT_USES = ['digital_signature', 'client_auth'];

/**
 * The stack's PKI with @pulumi/tls: an ECDSA P-256 CA (cert and CRL signing only), the broker's server
 * certificate, the key service's client certificate and its two key-agreement certificates (ECDH and
 * RSA-OAEP), and one client certificate per device with CN = device id.
 */
export class Pki extends pulumi.ComponentResource {
  readonly caCertPem: pulumi.Output<string>;
  readonly broker: IssuedCertificate;
  readonly service: IssuedCertificate;
  readonly serviceKexEc: IssuedCertificate;
  readonly serviceKexRsa: IssuedCertificate;
  readonly devices: Record<string, IssuedCertificate>;
  /**
   * The CA's CRL (PEM, not secret): the revoked devices' current serials and `revokedSerials`. The
   * same within a CRL period (deterministic signature), so re-running the program changes nothing.
   */
  readonly crlPem: pulumi.Output<string>;

  private readonly caKey: tls.PrivateKey;
  private readonly caCert: tls.SelfSignedCert;

  constructor(name: string, private readonly args: PkiArgs, opts?: pulumi.ComponentResourceOptions) {
    super('secure-mqtt-stack:pki:Pki', name, {}, opts);
    for (const id of args.deviceIds) {
      if (!isValidDeviceId(id)) throw new Error(`device id "${id}" must match [a-z0-9-] (it becomes a certificate CN and a topic level)`);
    }
    this.caKey = new tls.PrivateKey(`${name}-ca`, { algorithm: 'ECDSA', ecdsaCurve: 'P256' }, { parent: this });
    this.caCert = new tls.SelfSignedCert(
      `${name}-ca`,
      {
        privateKeyPem: this.caKey.privateKeyPem,
        subject: { commonName: `${args.stackName} telemetry CA`, organization: `secure-mqtt-stack ${args.stackName}` },
        isCaCertificate: true,
        allowedUses: ['cert_signing', 'crl_signing'],
        validityPeriodHours: args.caValidityDays * 24,
        earlyRenewalHours: Math.min(args.earlyRenewalHours * 4, args.caValidityDays * 12),
      },
      { parent: this },
    );
    this.caCertPem = this.caCert.certPem;

    this.broker = this.issue(`${name}-broker`, args.brokerHostNames[0] ?? 'broker', ['digital_signature', 'key_encipherment', 'server_auth'], args.keyAlgorithm, {
      dnsNames: [...args.brokerHostNames, 'localhost'],
      ipAddresses: ['127.0.0.1'],
    });
    this.service = this.issue(`${name}-key-service`, args.serviceIdentity, CLIENT_USES, args.keyAlgorithm);
    this.serviceKexEc = this.issue(`${name}-key-service-kex-ec`, args.serviceIdentity, ['key_agreement'], 'ecdsa-p256');
    this.serviceKexRsa = this.issue(`${name}-key-service-kex-rsa`, args.serviceIdentity, ['key_encipherment'], 'rsa-3072');
    // A revoked device's certificate is never renewed early: a renewal would give it a new serial that
    // the CRL lists instead, while the revoked one is still valid. Once expired, it is refused anyway.
    const revoked = new Set(args.revokedDevices);
    this.devices = Object.fromEntries(
      args.deviceIds.map((id, i) => [
        id,
        this.issue(`${name}-device-${id}`, id, CLIENT_USES, i < args.rsaDeviceCount ? 'rsa-3072' : args.keyAlgorithm, {}, revoked.has(id) ? 0 : undefined),
      ]),
    );
    this.crlPem = this.revocationList();
    this.registerOutputs({ caCertPem: this.caCertPem, crlPem: this.crlPem });
  }

  private revocationList(): pulumi.Output<string> {
    const { revokedDevices, revokedSerials, crlPeriodDays } = this.args;
    const window = revocationWindow(this.args.now ?? new Date(), crlPeriodDays);
    const revokedCerts = revokedDevices.map((id) => {
      const device = this.devices[id];
      if (!device) throw new Error(`cannot revoke ${id}: not a device of this stack`);
      return device.certPem;
    });
    const crl = pulumi.all([this.caCert.certPem, this.caKey.privateKeyPem, ...revokedCerts]).apply(([caPem, caKeyPem, ...devicePems]) =>
      issueRevocationList({
        issuerCertPem: caPem!,
        issuerKeyPem: caKeyPem!,
        revoked: [
          ...devicePems.map((pem) => ({ serialNumber: new X509Certificate(pem!).serialNumber, reason: 'keyCompromise' as const })),
          ...revokedSerials.map((serialNumber) => ({ serialNumber, reason: 'unspecified' as const })),
        ].map((entry) => ({ ...entry, revokedAt: window.thisUpdate })),
        ...window,
      }),
    );
    // Derived from the CA key, so Pulumi marks it secret; a CRL is public by design.
    return pulumi.unsecret(crl);
  }

  private issue(
    name: string,
    commonName: string,
    allowedUses: string[],
    algorithm: KeyAlgorithm,
    names: { dnsNames?: string[]; ipAddresses?: string[] } = {},
    earlyRenewalHours = Math.min(this.args.earlyRenewalHours, this.args.leafValidityDays * 12),
  ): IssuedCertificate {
    const key = new tls.PrivateKey(name, keyArgs(algorithm), { parent: this });
    const request = new tls.CertRequest(
      name,
      { privateKeyPem: key.privateKeyPem, subject: { commonName, organization: `secure-mqtt-stack ${this.args.stackName}` }, ...names },
      { parent: this },
    );
    const cert = new tls.LocallySignedCert(
      name,
      {
        certRequestPem: request.certRequestPem,
        caPrivateKeyPem: this.caKey.privateKeyPem,
        caCertPem: this.caCert.certPem,
        allowedUses,
        validityPeriodHours: this.args.leafValidityDays * 24,
        earlyRenewalHours,
      },
      { parent: this },
    );
    return { certPem: cert.certPem, keyPem: pulumi.secret(key.privateKeyPem) };
  }
}
