import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import { ConfigVolume } from './config-volume.js';
import { HARDENED_CONTAINER } from './container-hardening.js';
import { projectImage, type BrokerClientArgs } from './project-image.js';
import type { IssuedCertificate } from './pki.js';

const NODE_UID = '1000';
const DEVICE_DIR = '/etc/device-sim';

export interface FleetArgs extends BrokerClientArgs {
  devices: Record<string, IssuedCertificate>;
  devicesPerContainer: number;
  intervalMs: number;
  batchSize: number;
}

/** The simulated fleet: one image, devices spread over containers, each device with its own key. */
export class Fleet extends pulumi.ComponentResource {
  readonly image: docker.Image;
  readonly containers: docker.Container[];

  constructor(name: string, args: FleetArgs, opts?: pulumi.ComponentResourceOptions) {
    super('secure-mqtt-stack:fleet:Fleet', name, {}, opts);
    const prefix = args.namePrefix;
    this.image = projectImage(
      `${name}-image`,
      { buildContext: args.buildContext, dockerfile: 'device-sim/Dockerfile', imageName: `${prefix}-device-sim:local`, baseImage: args.baseImage },
      this,
    );
    const ids = Object.keys(args.devices);
    const groups: string[][] = [];
    for (let i = 0; i < ids.length; i += args.devicesPerContainer) groups.push(ids.slice(i, i + args.devicesPerContainer));

    this.containers = groups.map((group, index) => {
      const manifest = group.map((id) => ({ id, certPath: `${DEVICE_DIR}/devices/${id}.crt`, keyPath: `${DEVICE_DIR}/devices/${id}.key` }));
      const config = new ConfigVolume(
        `${name}-${index}-config`,
        {
          name: `${prefix}-fleet-${index}-config`,
          image: args.configLoaderImage,
          mountPath: DEVICE_DIR,
          files: [
            { file: `${DEVICE_DIR}/ca.crt`, content: args.caCertPem, owner: NODE_UID },
            { file: `${DEVICE_DIR}/devices.json`, content: JSON.stringify(manifest), owner: NODE_UID },
            ...group.flatMap((id) => [
              { file: `${DEVICE_DIR}/devices/${id}.crt`, content: args.devices[id]!.certPem, owner: NODE_UID },
              { file: `${DEVICE_DIR}/devices/${id}.key`, content: args.devices[id]!.keyPem, owner: NODE_UID, secret: true },
            ]),
          ],
        },
        { parent: this },
      );
      const { volume: configMount, label: configLabel } = config.mount();
      return new docker.Container(
        `${name}-${index}`,
        {
          name: `${prefix}-fleet-${index}`,
          image: this.image.repoDigest,
          user: `${NODE_UID}:${NODE_UID}`,
          networksAdvanced: [{ name: args.networkName }],
          envs: [
            `DEVICE_SIM_MQTT_URL=mqtts://${args.brokerHost}:${args.brokerPort}`,
            `DEVICE_SIM_CA_CERT_FILE=${DEVICE_DIR}/ca.crt`,
            `DEVICE_SIM_DEVICES_FILE=${DEVICE_DIR}/devices.json`,
            `DEVICE_SIM_SERVICE_NAME=${args.serviceIdentity}`,
            `DEVICE_SIM_INTERVAL_MS=${args.intervalMs}`,
            `DEVICE_SIM_BATCH_SIZE=${args.batchSize}`,
            'DEVICE_SIM_STATS_INTERVAL_MS=60000',
            'DEVICE_SIM_HEARTBEAT_FILE=/tmp/device-sim.heartbeat',
          ],
          volumes: [configMount],
          labels: [configLabel],
          // Healthy while the process keeps rewriting its heartbeat (every 10 s).
          healthcheck: {
            tests: ['CMD', 'node', '-e', "process.exit(Date.now()-require('fs').statSync('/tmp/device-sim.heartbeat').mtimeMs<60000?0:1)"],
            interval: '15s',
            timeout: '3s',
            retries: 3,
            startPeriod: '20s',
          },
          ...HARDENED_CONTAINER,
        },
        { parent: this, dependsOn: [config] },
      );
    });
    this.registerOutputs({ containers: this.containers.map((c) => c.name) });
  }
}
