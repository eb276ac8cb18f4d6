import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import { ConfigVolume } from './config-volume.js';
import { HARDENED_CONTAINER } from './container-hardening.js';
import { projectImage, type BrokerClientArgs } from './project-image.js';
import type { IssuedCertificate } from './pki.js';

export const API_PORT = 8080;
/** The `node` user of the official Node images, which the Dockerfile runs as. */
const NODE_UID = '1000';
const CONFIG_DIR = '/etc/key-service';
const TLS_DIR = `${CONFIG_DIR}/tls`;

export interface KeyServiceArgs extends BrokerClientArgs {
  client: IssuedCertificate;
  kexEc: IssuedCertificate;
  kexRsa: IssuedCertificate;
  /** The CA's CRL: the service refuses key exchanges signed with a revoked certificate. */
  crlPem: pulumi.Input<string>;
  apiPublishPort: number | undefined;
  publishHost: string;
  replayWindow: number;
  sessionGraceSeconds: number;
}

/** The key-exchange/decryption service, built from this repository, with SQLite on a volume. */
export class KeyService extends pulumi.ComponentResource {
  readonly container: docker.Container;
  readonly image: docker.Image;

  constructor(name: string, args: KeyServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super('secure-mqtt-stack:service:KeyService', name, {}, opts);
    const prefix = args.namePrefix;
    this.image = projectImage(
      `${name}-image`,
      { buildContext: args.buildContext, dockerfile: 'services/key-service/Dockerfile', imageName: `${prefix}-key-service:local`, baseImage: args.baseImage },
      this,
    );
    const data = new docker.Volume(`${name}-data`, { name: `${prefix}-key-service-data` }, { parent: this });
    const file = (name: string) => `${TLS_DIR}/${name}`;
    const config = new ConfigVolume(
      `${name}-config`,
      {
        name: `${prefix}-key-service-config`,
        image: args.configLoaderImage,
        mountPath: CONFIG_DIR,
        files: [
          { file: file('ca.crt'), content: args.caCertPem, owner: NODE_UID },
          { file: file('client.crt'), content: args.client.certPem, owner: NODE_UID },
          { file: file('client.key'), content: args.client.keyPem, owner: NODE_UID, secret: true },
          { file: file('kex-ec.crt'), content: args.kexEc.certPem, owner: NODE_UID },
          { file: file('kex-ec.key'), content: args.kexEc.keyPem, owner: NODE_UID, secret: true },
          { file: file('kex-rsa.crt'), content: args.kexRsa.certPem, owner: NODE_UID },
          { file: file('kex-rsa.key'), content: args.kexRsa.keyPem, owner: NODE_UID, secret: true },
          { file: file('crl.pem'), content: args.crlPem, owner: NODE_UID },
        ],
      },
      { parent: this },
    );
    const { volume: configMount, label: configLabel } = config.mount();
    this.container = new docker.Container(
      `${name}-container`,
      {
        name: `${prefix}-key-service`,
        image: this.image.repoDigest,
        user: `${NODE_UID}:${NODE_UID}`,
        networksAdvanced: [{ name: args.networkName, aliases: ['key-service'] }],
        ports: args.apiPublishPort ? [{ internal: API_PORT, external: args.apiPublishPort, ip: args.publishHost }] : [],
        volumes: [configMount, { volumeName: data.name, containerPath: '/var/lib/key-service' }],
        labels: [configLabel],
        // Paths only: key material reaches the container as files, never through the environment.
        envs: [
          `KEY_SERVICE_MQTT_URL=mqtts://${args.brokerHost}:${args.brokerPort}`,
          `KEY_SERVICE_NAME=${args.serviceIdentity}`,
          `KEY_SERVICE_CA_CERT_FILE=${file('ca.crt')}`,
          `KEY_SERVICE_CLIENT_CERT_FILE=${file('client.crt')}`,
          `KEY_SERVICE_CLIENT_KEY_FILE=${file('client.key')}`,
          `KEY_SERVICE_KEX_EC_CERT_FILE=${file('kex-ec.crt')}`,
          `KEY_SERVICE_KEX_EC_KEY_FILE=${file('kex-ec.key')}`,
          `KEY_SERVICE_KEX_RSA_CERT_FILE=${file('kex-rsa.crt')}`,
          `KEY_SERVICE_KEX_RSA_KEY_FILE=${file('kex-rsa.key')}`,
          `KEY_SERVICE_CRL_FILE=${file('crl.pem')}`,
          'KEY_SERVICE_DB_PATH=/var/lib/key-service/readings.db',
          'KEY_SERVICE_HTTP_HOST=0.0.0.0',
          `KEY_SERVICE_HTTP_PORT=${API_PORT}`,
          `KEY_SERVICE_REPLAY_WINDOW=${args.replayWindow}`,
          `KEY_SERVICE_SESSION_GRACE_SECONDS=${args.sessionGraceSeconds}`,
        ],
        healthcheck: {
          tests: ['CMD', 'node', '-e', `fetch('http://127.0.0.1:${API_PORT}/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))`],
          interval: '10s',
          timeout: '3s',
          retries: 3,
          startPeriod: '10s',
        },
        ...HARDENED_CONTAINER,
      },
      { parent: this, dependsOn: [config] },
    );
    this.registerOutputs({ containerName: this.container.name });
  }
}
