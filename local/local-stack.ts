import { X509Certificate } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AclInput, BrokerLimits } from '../broker-config/mosquitto-config.js';
import { ManagedProcess } from './child-process.js';
import { LocalBroker } from './local-broker.js';
import { createLocalPki, SERVICE_IDENTITY, type LocalPki } from './local-pki.js';
import { issueRevocationList, type RevocationReason, type RevokedCertificate } from '../revocation/index.js';
import { freePort } from './ports.js';

/** What a client of the running stack needs; written to endpoints.json. */
export interface Endpoints {
  broker: { host: string; port: number };
  api: { url: string };
  caCertPath: string;
  /** The CA's current CRL; the broker and the service re-read it when `revoke` changes it. */
  crlPath: string;
  devices: { id: string; certPath: string; keyPath: string }[];
}

/** How long each CRL the local stack issues stays valid. */
const CRL_VALIDITY_MS = 7 * 86_400_000;

export interface LocalStackOptions {
  dir: string;
  devices: number;
  /** How many of the devices use RSA keys (RSA-OAEP key transport); the rest use ECDSA/ECDH. */
  rsaDevices?: number;
  intervalMs: number;
  batchSize?: number;
  /** Start the device-sim process for the fleet; tests run their own devices in-process instead. */
  runFleet: boolean;
  /** Extra identities the ACL lets read (ciphertext) telemetry. */
  telemetryReaders?: string[];
  brokerLimits?: Partial<BrokerLimits>;
  serviceEnv?: NodeJS.ProcessEnv;
  /** Devices whose certificates the first CRL already revokes (configuration, as `pki.revokedDevices`). */
  revokedDevices?: string[];
}

export class LocalStack {
  private constructor(
    readonly endpoints: Endpoints,
    readonly pki: LocalPki,
    readonly broker: LocalBroker,
    readonly dir: string,
    private readonly serviceEnv: NodeJS.ProcessEnv,
    public service: ManagedProcess,
    readonly fleet: ManagedProcess | undefined,
    private readonly revoked: RevokedCertificate[],
    private readonly acl: AclInput,
    private readonly blocked: string[] = [],
  ) {}

  /** PKI, then Mosquitto, then the key service (ready), then the fleet. */
  static async start(options: LocalStackOptions): Promise<LocalStack> {
    const { dir } = options;
    mkdirSync(join(dir, 'logs'), { recursive: true });
    chmodSync(dir, 0o755); // mosquitto, run as root, drops to its own user and must reach its files
    const deviceIds = Array.from({ length: options.devices }, (_, i) => `sensor-${String(i + 1).padStart(3, '0')}`);
    const pki = await createLocalPki({
      dir: join(dir, 'pki'),
      deviceIds,
      rsaFromIndex: options.devices - (options.rsaDevices ?? 0),
    });
    // The CRL exists from the start (empty): revoking later is a file change and a SIGHUP, not a restart.
    const revoked: RevokedCertificate[] = (options.revokedDevices ?? []).map((id) => {
      const device = pki.devices.find((d) => d.id === id);
      if (!device) throw new Error(`cannot revoke ${id}: the stack has devices ${deviceIds[0]}..${deviceIds[deviceIds.length - 1]}`);
      return { serialNumber: new X509Certificate(readFileSync(device.certPath)).serialNumber, revokedAt: new Date(), reason: 'keyCompromise' as const };
    });
    const crlPath = join(dir, 'pki', 'crl.pem');
    const crlPem = await issueLocalCrl(pki, revoked);
    writeFileSync(crlPath, crlPem, { mode: 0o644 });
    const acl: AclInput = { serviceIdentity: SERVICE_IDENTITY, telemetryReaders: options.telemetryReaders ?? [] };
    const brokerPort = await freePort();
    const broker = await LocalBroker.start({
      dir: join(dir, 'broker'),
      port: brokerPort,
      caCertPem: pki.ca.certPem,
      server: pki.broker,
      acl,
      crlPem,
      ...(options.brokerLimits ? { limits: options.brokerLimits } : {}),
    });
    const mqttUrl = `mqtts://127.0.0.1:${brokerPort}`;
    const apiPort = await freePort();
    const serviceEnv: NodeJS.ProcessEnv = {
      KEY_SERVICE_MQTT_URL: mqttUrl,
      KEY_SERVICE_NAME: SERVICE_IDENTITY,
      KEY_SERVICE_CA_CERT_FILE: pki.caCertPath,
      KEY_SERVICE_CLIENT_CERT_FILE: pki.service.certPath,
      KEY_SERVICE_CLIENT_KEY_FILE: pki.service.keyPath,
      KEY_SERVICE_KEX_EC_CERT_FILE: pki.serviceKexEc.certPath,
      KEY_SERVICE_KEX_EC_KEY_FILE: pki.serviceKexEc.keyPath,
      KEY_SERVICE_KEX_RSA_CERT_FILE: pki.serviceKexRsa.certPath,
      KEY_SERVICE_KEX_RSA_KEY_FILE: pki.serviceKexRsa.keyPath,
      KEY_SERVICE_DB_PATH: join(dir, 'key-service.db'),
      KEY_SERVICE_HTTP_PORT: String(apiPort),
      // On one machine the service can read the broker's log and count its TLS refusals.
      KEY_SERVICE_BROKER_LOG_FILE: broker.logPath,
      KEY_SERVICE_CRL_FILE: crlPath,
      ...options.serviceEnv,
    };
    const endpoints: Endpoints = {
      broker: { host: '127.0.0.1', port: brokerPort },
      api: { url: `http://127.0.0.1:${apiPort}` },
      caCertPath: pki.caCertPath,
      crlPath,
      devices: pki.devices.map(({ id, certPath, keyPath }) => ({ id, certPath, keyPath })),
    };
    writeFileSync(join(dir, 'endpoints.json'), `${JSON.stringify(endpoints, null, 2)}\n`);
    let service: ManagedProcess | undefined;
    try {
      service = await startService(serviceEnv, dir, endpoints.api.url);
      let fleet: ManagedProcess | undefined;
      if (options.runFleet) {
        const devicesFile = join(dir, 'fleet-devices.json');
        writeFileSync(devicesFile, JSON.stringify(endpoints.devices));
        fleet = ManagedProcess.start(
          'device-sim/main.ts',
          {
            DEVICE_SIM_MQTT_URL: mqttUrl,
            DEVICE_SIM_CA_CERT_FILE: pki.caCertPath,
            DEVICE_SIM_DEVICES_FILE: devicesFile,
            DEVICE_SIM_SERVICE_NAME: SERVICE_IDENTITY,
            DEVICE_SIM_INTERVAL_MS: String(options.intervalMs),
            DEVICE_SIM_BATCH_SIZE: String(options.batchSize ?? 1),
            DEVICE_SIM_STATS_INTERVAL_MS: '5000',
          },
          join(dir, 'logs', 'device-sim.log'),
        );
      }
      return new LocalStack(endpoints, pki, broker, dir, serviceEnv, service, fleet, revoked, acl);
    } catch (error) {
      await service?.stop();
      await broker.stop();
      throw error;
    }
  }

  get mqttUrl(): string {
    return `mqtts://${this.endpoints.broker.host}:${this.endpoints.broker.port}`;
  }

  /** Stops the service (SIGTERM, or SIGKILL to simulate a crash) and starts it again on the same data, after `downtimeMs`. */
  async restartService(signal: NodeJS.Signals = 'SIGTERM', downtimeMs = 0): Promise<void> {
    await this.service.stop(signal);
    // While it is down the broker queues for its persistent session; devices keep publishing.
    if (downtimeMs > 0) await new Promise((resolve) => setTimeout(resolve, downtimeMs));
    this.service = await startService(this.serviceEnv, this.dir, this.endpoints.api.url);
  }

  /**
   * Revokes the devices' current certificates: a new CRL for the broker (SIGHUP: new TLS connections
   * with them are refused) and the service (SIGHUP: their sessions end, their key exchanges are
   * refused). Answers the revoked serials.
   */
  async revoke(deviceIds: string[], reason: RevocationReason = 'keyCompromise'): Promise<string[]> {
    const serials = deviceIds.map((id) => {
      const device = this.pki.devices.find((d) => d.id === id);
      if (!device) throw new Error(`no device ${id} in this stack`);
      return new X509Certificate(readFileSync(device.certPath)).serialNumber;
    });
    const revokedAt = new Date();
    const next = [...this.revoked, ...serials.map((serialNumber) => ({ serialNumber, revokedAt, reason }))];
    const crlPem = await issueLocalCrl(this.pki, next);
    this.revoked.splice(0, this.revoked.length, ...next);
    writeFileSync(`${this.endpoints.crlPath}.next`, crlPem, { mode: 0o644 });
    renameSync(`${this.endpoints.crlPath}.next`, this.endpoints.crlPath);
    this.broker.replaceCrl(crlPem);
    this.service.signal('SIGHUP');
    return serials;
  }

  /** Cuts devices off at the broker by configuration: the ACL denies them everything, from now on. */
  block(deviceIds: string[]): void {
    this.blocked.push(...deviceIds);
    this.broker.replaceAcl({ ...this.acl, blockedDevices: this.blocked });
  }

  /** A new key and certificate for the device, written over its files, as a renewal would. */
  async renew(deviceId: string): Promise<{ certPath: string; keyPath: string }> {
    const device = this.pki.devices.find((d) => d.id === deviceId);
    if (!device) throw new Error(`no device ${deviceId} in this stack`);
    const credential = await this.pki.ca.issue({ commonName: deviceId, usage: 'client', keyAlgorithm: device.keyAlgorithm });
    writeFileSync(device.certPath, credential.certPem, { mode: 0o644 });
    writeFileSync(device.keyPath, credential.keyPem, { mode: 0o600 });
    return { certPath: device.certPath, keyPath: device.keyPath };
  }

  /** Fleet first so its buffers drain into a running service, then the service, then the broker. */
  async stop(): Promise<void> {
    await this.fleet?.stop();
    await this.service.stop();
    await this.broker.stop();
  }
}

/** A CRL valid from a minute ago for a week; each one issued later has a later thisUpdate. */
async function issueLocalCrl(pki: LocalPki, revoked: RevokedCertificate[]): Promise<string> {
  const thisUpdate = new Date(Date.now() - 60_000);
  return issueRevocationList({
    issuerCertPem: pki.ca.credential.certPem,
    issuerKeyPem: pki.ca.credential.keyPem,
    revoked,
    thisUpdate,
    nextUpdate: new Date(thisUpdate.getTime() + CRL_VALIDITY_MS),
  });
}

async function startService(env: NodeJS.ProcessEnv, dir: string, apiUrl: string): Promise<ManagedProcess> {
  const service = ManagedProcess.start('services/key-service/main.ts', env, join(dir, 'logs', 'key-service.log'));
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (service.exited) throw new Error(`key service exited with ${service.exitCode}; see ${service.logPath}`);
    const ready = await fetch(`${apiUrl}/readyz`).then((r) => r.ok, () => false);
    if (ready) return service;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await service.stop();
  throw new Error(`key service not ready within 30 s; see ${service.logPath}`);
}
