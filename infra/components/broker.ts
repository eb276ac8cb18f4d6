import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import { renderAclFile, renderMosquittoConf, type BrokerLimits, type TlsMinimumVersion } from '../../broker-config/mosquitto-config.js';
import { ConfigVolume } from './config-volume.js';
import { HARDENED_CONTAINER } from './container-hardening.js';
import type { IssuedCertificate } from './pki.js';

export const BROKER_PORT = 8883;
/** uid/gid of the mosquitto user in the eclipse-mosquitto image. */
const MOSQUITTO_UID = '1883';

export interface BrokerArgs {
  namePrefix: string;
  image: string;
  networkName: pulumi.Input<string>;
  /** The broker's name on the private network; its certificate carries it. */
  hostName: string;
  tlsMinimumVersion: TlsMinimumVersion;
  limits: BrokerLimits;
  publishPort: number | undefined;
  publishHost: string;
  caCertPem: pulumi.Input<string>;
  certificate: IssuedCertificate;
  /** The CA's CRL: Mosquitto refuses the TLS handshake of a revoked certificate. */
  crlPem: pulumi.Input<string>;
  serviceIdentity: string;
  telemetryReaders?: string[];
  /** Devices the ACL denies everything. */
  blockedDevices?: string[];
}

/** Mosquitto in a container: mutual TLS only, ACL per device, persistence on a volume. */
export class Broker extends pulumi.ComponentResource {
  readonly container: docker.Container;
  readonly hostName: string;
  readonly port = BROKER_PORT;
  /** The pulled Mosquitto image: small, so the stack's config-volume loaders use it too. */
  readonly imageId: pulumi.Output<string>;
  /** The rendered files, exposed so tests and policies read exactly what is uploaded. */
  readonly mosquittoConf: string;
  readonly aclFile: string;

  constructor(name: string, args: BrokerArgs, opts?: pulumi.ComponentResourceOptions) {
    super('secure-mqtt-stack:broker:Broker', name, {}, opts);
    const prefix = args.namePrefix;
    this.hostName = args.hostName;
    this.mosquittoConf = renderMosquittoConf({
      port: BROKER_PORT,
      tlsMinimumVersion: args.tlsMinimumVersion,
      caFile: '/mosquitto/config/certs/ca.crt',
      certFile: '/mosquitto/config/certs/broker.crt',
      keyFile: '/mosquitto/config/certs/broker.key',
      crlFile: '/mosquitto/config/certs/crl.pem',
      aclFile: '/mosquitto/config/acl',
      persistenceLocation: '/mosquitto/data',
      limits: args.limits,
    });
    this.aclFile = renderAclFile({ serviceIdentity: args.serviceIdentity, telemetryReaders: args.telemetryReaders ?? [], blockedDevices: args.blockedDevices ?? [] });

    const image = new docker.RemoteImage(`${name}-image`, { name: args.image, keepLocally: true }, { parent: this });
    this.imageId = image.imageId;
    const data = new docker.Volume(`${name}-data`, { name: `${prefix}-broker-data` }, { parent: this });
    const config = new ConfigVolume(
      `${name}-config`,
      {
        name: `${prefix}-broker-config`,
        image: image.imageId,
        mountPath: '/mosquitto/config',
        files: [
          { file: '/mosquitto/config/mosquitto.conf', content: this.mosquittoConf, owner: MOSQUITTO_UID },
          { file: '/mosquitto/config/acl', content: this.aclFile, owner: MOSQUITTO_UID },
          { file: '/mosquitto/config/certs/ca.crt', content: args.caCertPem, owner: MOSQUITTO_UID },
          { file: '/mosquitto/config/certs/broker.crt', content: args.certificate.certPem, owner: MOSQUITTO_UID },
          { file: '/mosquitto/config/certs/broker.key', content: args.certificate.keyPem, owner: MOSQUITTO_UID, secret: true },
          { file: '/mosquitto/config/certs/crl.pem', content: args.crlPem, owner: MOSQUITTO_UID },
        ],
      },
      { parent: this },
    );
    const { volume: configMount, label: configLabel } = config.mount();
    this.container = new docker.Container(
      `${name}-container`,
      {
        name: `${prefix}-broker`,
        image: image.imageId,
        // Run as the mosquitto user from the start: the entrypoint's chown needs capabilities we drop.
        user: `${MOSQUITTO_UID}:${MOSQUITTO_UID}`,
        command: ['mosquitto', '-c', '/mosquitto/config/mosquitto.conf'],
        networksAdvanced: [{ name: args.networkName, aliases: [args.hostName] }],
        ports: args.publishPort ? [{ internal: BROKER_PORT, external: args.publishPort, ip: args.publishHost }] : [],
        volumes: [configMount, { volumeName: data.name, containerPath: '/mosquitto/data' }],
        labels: [configLabel],
        // The listener is in LISTEN state (/proc/net/tcp{,6}), checked without connecting: a connection closed
        // before TLS leaves Mosquitto's client count one too low (eclipse-mosquitto/mosquitto#1460), and a
        // probe every 10 s would let max_connections drift open.
        healthcheck: { tests: ['CMD-SHELL', listeningCheck(BROKER_PORT)], interval: '10s', timeout: '3s', retries: 3, startPeriod: '5s' },
        ...HARDENED_CONTAINER,
      },
      { parent: this, dependsOn: [config] },
    );
    this.registerOutputs({ containerName: this.container.name });
  }
}

/** A shell test that passes while something listens on `port` (IPv4 or IPv6), opening no connection. */
export function listeningCheck(port: number): string {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  return `grep -qE ':${hexPort} 0+:0000 0A ' /proc/net/tcp /proc/net/tcp6 || exit 1`;
}
