import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import { Broker } from './components/broker.js';
import { Fleet } from './components/fleet.js';
import { API_PORT, KeyService } from './components/key-service.js';
import { Pki } from './components/pki.js';
import type { BrokerClientArgs } from './components/project-image.js';
import { fleetDeviceIds, type StackConfig } from './stack-config.js';

export const SERVICE_IDENTITY = 'key-service.svc';
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export interface StackOutputs {
  brokerEndpoint: string;
  apiUrl: string;
  caCertPem: pulumi.Output<string>;
  deviceIds: string[];
  tlsMinimumVersion: string;
  pki: Pki;
  broker: Broker;
  keyService: KeyService;
  fleet: Fleet;
}

/**
 * The whole stack: PKI → private network → Mosquitto → key service → fleet. Resource names carry the
 * stack name, so dev and staging can share a Docker host.
 */
export function declareStack(stackName: string, config: StackConfig): StackOutputs {
  const prefix = `smqtt-${stackName}`;
  const brokerHost = `${prefix}-broker`;
  const deviceIds = fleetDeviceIds(config.fleet.size);
  const revoked = new Set(config.pki.revokedDevices);

  const dockerProvider = config.docker.host ? new docker.Provider('docker', { host: config.docker.host }) : undefined;
  const dockerOpts: pulumi.ComponentResourceOptions = dockerProvider ? { providers: { docker: dockerProvider } } : {};

  const pki = new Pki('pki', {
    stackName,
    keyAlgorithm: config.pki.keyAlgorithm,
    caValidityDays: config.pki.caValidityDays,
    leafValidityDays: config.pki.leafValidityDays,
    earlyRenewalHours: config.pki.earlyRenewalHours,
    brokerHostNames: [brokerHost],
    serviceIdentity: SERVICE_IDENTITY,
    deviceIds,
    rsaDeviceCount: config.fleet.rsaDevices,
    crlPeriodDays: config.pki.crlPeriodDays,
    revokedDevices: config.pki.revokedDevices,
    revokedSerials: config.pki.revokedSerials,
  });

  // A user-defined bridge only the stack's containers join. Not `internal`: dev publishes ports on 127.0.0.1.
  const network = new docker.Network('network', { name: `${prefix}-net`, driver: 'bridge' }, dockerProvider ? { provider: dockerProvider } : {});

  const broker = new Broker(
    'broker',
    {
      namePrefix: prefix,
      image: config.broker.image,
      networkName: network.name,
      hostName: brokerHost,
      tlsMinimumVersion: config.broker.tlsMinimumVersion,
      limits: config.broker.limits,
      publishPort: config.broker.publishPort,
      publishHost: config.broker.publishHost,
      caCertPem: pki.caCertPem,
      certificate: pki.broker,
      crlPem: pki.crlPem,
      serviceIdentity: SERVICE_IDENTITY,
      telemetryReaders: config.broker.telemetryReaders,
      blockedDevices: config.broker.blockedDevices,
    },
    dockerOpts,
  );

  // What the key service and the fleet share to join the stack as MQTT clients.
  const brokerClient: Omit<BrokerClientArgs, 'baseImage'> = {
    namePrefix: prefix,
    buildContext: REPO_ROOT,
    networkName: network.name,
    brokerHost,
    brokerPort: broker.port,
    serviceIdentity: SERVICE_IDENTITY,
    caCertPem: pki.caCertPem,
    configLoaderImage: broker.imageId,
  };

  const keyService = new KeyService(
    'key-service',
    {
      ...brokerClient,
      baseImage: config.keyService.baseImage,
      crlPem: pki.crlPem,
      client: pki.service,
      kexEc: pki.serviceKexEc,
      kexRsa: pki.serviceKexRsa,
      apiPublishPort: config.keyService.apiPublishPort,
      publishHost: config.broker.publishHost,
      replayWindow: config.keyService.replayWindow,
      sessionGraceSeconds: config.keyService.sessionGraceSeconds,
    },
    { ...dockerOpts, dependsOn: [broker] },
  );

  const fleet = new Fleet(
    'fleet',
    {
      ...brokerClient,
      baseImage: config.fleet.baseImage,
      // Revoked devices are not deployed: their certificates would be refused anyway.
      devices: Object.fromEntries(Object.entries(pki.devices).filter(([id]) => !revoked.has(id))),
      devicesPerContainer: config.fleet.devicesPerContainer,
      intervalMs: config.fleet.intervalMs,
      batchSize: config.fleet.batchSize,
    },
    { ...dockerOpts, dependsOn: [keyService] },
  );

  const publishedHost = config.docker.host?.startsWith('ssh://') ? new URL(config.docker.host).hostname : config.broker.publishHost;
  return {
    brokerEndpoint: config.broker.publishPort
      ? `mqtts://${publishedHost}:${config.broker.publishPort}`
      : `mqtts://${brokerHost}:${broker.port} (private network only)`,
    apiUrl: config.keyService.apiPublishPort ? `http://${publishedHost}:${config.keyService.apiPublishPort}` : `http://key-service:${API_PORT}`,
    caCertPem: pki.caCertPem,
    deviceIds,
    tlsMinimumVersion: config.broker.tlsMinimumVersion,
    pki,
    broker,
    keyService,
    fleet,
  };
}
