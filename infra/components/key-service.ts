import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import { HARDENED_CONTAINER, upload } from './container-hardening.js';
import type { IssuedCertificate } from './pki.js';

export const API_PORT = 8080;
/** The `node` user of the official Node images, which the Dockerfile runs as. */
const NODE_UID = '1000';
const TLS_DIR = '/etc/key-service/tls';

export interface KeyServiceArgs {
  namePrefix: string;
  /** Repository root: the Docker build context. */
  buildContext: string;
  baseImage: string;
  networkName: pulumi.Input<string>;
  brokerHost: string;
  brokerPort: number;
  serviceIdentity: string;
  caCertPem: pulumi.Input<string>;
  client: IssuedCertificate;
  kexEc: IssuedCertificate;
  kexRsa: IssuedCertificate;
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
    this.image = new docker.Image(
      `${name}-image`,
      {
        imageName: `${prefix}-key-service:local`,
        build: {
          context: args.buildContext,
          dockerfile: `${args.buildContext}/services/key-service/Dockerfile`,
          args: { BASE_IMAGE: args.baseImage },
          builderVersion: 'BuilderBuildKit',
        },
        skipPush: true,
      },
      { parent: this },
    );
    const data = new docker.Volume(`${name}-data`, { name: `${prefix}-key-service-data` }, { parent: this });
    const file = (name: string) => `${TLS_DIR}/${name}`;
    this.container = new docker.Container(
      `${name}-container`,
      {
        name: `${prefix}-key-service`,
        image: this.image.repoDigest,
        user: `${NODE_UID}:${NODE_UID}`,
        networksAdvanced: [{ name: args.networkName, aliases: ['key-service'] }],
        ports: args.apiPublishPort ? [{ internal: API_PORT, external: args.apiPublishPort, ip: args.publishHost }] : [],
        volumes: [{ volumeName: data.name, containerPath: '/var/lib/key-service' }],
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
          'KEY_SERVICE_DB_PATH=/var/lib/key-service/readings.db',
          'KEY_SERVICE_HTTP_HOST=0.0.0.0',
          `KEY_SERVICE_HTTP_PORT=${API_PORT}`,
          `KEY_SERVICE_REPLAY_WINDOW=${args.replayWindow}`,
          `KEY_SERVICE_SESSION_GRACE_SECONDS=${args.sessionGraceSeconds}`,
        ],
        uploads: [
          upload(file('ca.crt'), args.caCertPem, NODE_UID),
          upload(file('client.crt'), args.client.certPem, NODE_UID),
          upload(file('client.key'), args.client.keyPem, NODE_UID, true),
          upload(file('kex-ec.crt'), args.kexEc.certPem, NODE_UID),
          upload(file('kex-ec.key'), args.kexEc.keyPem, NODE_UID, true),
          upload(file('kex-rsa.crt'), args.kexRsa.certPem, NODE_UID),
          upload(file('kex-rsa.key'), args.kexRsa.keyPem, NODE_UID, true),
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
      { parent: this },
    );
    this.registerOutputs({ containerName: this.container.name });
  }
}
