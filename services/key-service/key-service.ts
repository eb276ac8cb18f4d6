import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { pemToDer, TrustStore } from '../../protocol/certificates.js';
import { ecdhFromPrivateKey, type ServiceKeyMaterial } from '../../protocol/kex.js';
import { encodeServiceCertificates } from '../../protocol/service-certificates.js';
import { SERVICE_CERTIFICATES_TOPIC, SERVICE_SUBSCRIPTIONS } from '../../protocol/topics.js';
import type { KexScheme } from '../../protocol/wire.js';
import { AckAfterCommit } from './ack-after-commit.js';
import { BrokerLogWatcher } from './broker-log-watcher.js';
import type { KeyServiceConfig } from './config.js';
import { HttpApi } from './http-api.js';
import { RateLimitedLog } from './logger.js';
import { MessageHandler } from './message-handler.js';
import { ServiceMetrics } from './metrics.js';
import { ReadingsStore } from './readings-store.js';
import { RevocationWatcher } from './revocation-watcher.js';
import { SessionRegistry } from './session-registry.js';
import { SessionVault } from './session-vault.js';

const NONCE_PURGE_INTERVAL_MS = 60_000;

/** The key-exchange/decryption service: MQTT in, SQLite and an HTTP API out. */
export class KeyService {
  readonly metrics = new ServiceMetrics();
  private readonly store: ReadingsStore;
  private readonly http: HttpApi;
  private client: MqttClient | undefined;
  private acks: AckAfterCommit | undefined;
  private subscribed = false;
  private purgeTimer: NodeJS.Timeout | undefined;
  private brokerLog: BrokerLogWatcher | undefined;
  private revocations: RevocationWatcher | undefined;
  private httpPort = 0;

  private constructor(
    private readonly config: KeyServiceConfig,
    private readonly log: Logger,
    private readonly onFatal: (error: unknown) => void,
  ) {
    this.store = new ReadingsStore(config.dbPath);
    this.http = new HttpApi({ store: this.store, metrics: this.metrics, isReady: () => this.isReady() });
  }

  static async start(config: KeyServiceConfig, log: Logger, onFatal: (error: unknown) => void): Promise<KeyService> {
    const service = new KeyService(config, log, onFatal);
    try {
      await service.run();
    } catch (error) {
      await service.stop();
      throw error;
    }
    return service;
  }

  /** Re-reads the CRL now (SIGHUP), instead of waiting for the file watcher. */
  async reloadRevocations(): Promise<void> {
    await this.revocations?.reload();
  }

  get apiPort(): number {
    return this.httpPort;
  }

  isReady(): boolean {
    return Boolean(this.client?.connected) && this.subscribed && this.store.isHealthy();
  }

  private async run(): Promise<void> {
    const { config, log } = this;
    const caPem = readFileSync(config.caCertFile, 'utf8');
    const trust = new TrustStore(caPem);
    const { keys, announcement, vaultSecret } = loadServiceKeys(config, trust);

    const registry = new SessionRegistry(this.store, new SessionVault(vaultSecret), {
      graceMs: config.sessionGraceSeconds * 1000,
      replayWindow: config.replayWindow,
    });
    const restored = registry.load(Date.now());
    this.metrics.activeSessions = () => registry.activeDevices;
    log.info({ sessions: restored.loaded, discarded: restored.unreadable }, 'sessions restored');

    if (config.crlFile) {
      this.revocations = new RevocationWatcher({
        file: config.crlFile,
        caCertPem: caPem,
        onList: (list) => {
          trust.setRevokedSerials(list.revokedSerials);
          const { sessions, devices } = registry.endSessionsOf(list.revokedSerials);
          this.metrics.sessionsRevoked += sessions;
          this.metrics.revokedCertificates = list.revokedSerials.size;
          this.metrics.crlNextUpdate = Math.floor((list.nextUpdate?.getTime() ?? 0) / 1000);
          log.info({ revoked: list.revokedSerials.size, nextUpdate: list.nextUpdate?.toISOString(), endedSessionsOf: devices }, 'revocation list in force');
        },
        onRejected: (error) => {
          this.metrics.crlRejected++;
          log.error({ code: error.code, err: error.message }, 'revocation list refused; the previous one stays in force');
        },
      });
      await this.revocations.start();
    }

    const handler = new MessageHandler({
      trust,
      serviceKeys: keys,
      store: this.store,
      registry,
      metrics: this.metrics,
      kexPolicy: { maxAgeMs: config.kexMaxAgeSeconds * 1000, maxFutureSkewMs: 30_000 },
    });
    this.purgeTimer = setInterval(() => this.store.purgeExpiredNonces(Date.now()), NONCE_PURGE_INTERVAL_MS);
    this.purgeTimer.unref();

    if (config.brokerLogFile) {
      this.brokerLog = new BrokerLogWatcher(config.brokerLogFile, (reason) =>
        this.metrics.brokerRefusals.set(reason, (this.metrics.brokerRefusals.get(reason) ?? 0) + 1),
      );
      this.brokerLog.start();
    }
    this.httpPort = await this.http.listen(config.httpPort, config.httpHost);
    log.info({ url: `http://${config.httpHost}:${this.httpPort}` }, 'http api listening');

    const client = mqtt.connect(config.mqttUrl, {
      clientId: config.clientId,
      protocolVersion: 5,
      clean: false,
      properties: { sessionExpiryInterval: config.mqttSessionExpirySeconds, receiveMaximum: 2_000 },
      ca: caPem,
      cert: readFileSync(config.clientCertFile),
      key: readFileSync(config.clientKeyFile),
      rejectUnauthorized: true,
      reconnectPeriod: 1_000,
      connectTimeout: 10_000,
    });
    this.client = client;
    const rejections = new RateLimitedLog();
    const acks = new AckAfterCommit(
      client,
      this.store.group,
      (inserted) => {
        this.metrics.readingsStored += inserted;
      },
      (error) => this.onFatal(error),
    );
    this.acks = acks;
    acks.attach((topic, payload) => {
      const result = handler.handle(topic, payload);
      if (result.kind === 'accepted') return { rows: result.readings };
      if (result.kind === 'key-exchange') return { replies: [result.reply] };
      if (result.kind === 'rejected') {
        const suppressed = rejections.admit(`${result.deviceId ?? '?'}:${result.code}`);
        if (suppressed !== undefined) log.warn({ deviceId: result.deviceId, code: result.code, suppressed }, 'message refused');
        if (result.reply) return { replies: [result.reply] };
      }
      return undefined;
    });

    client.on('connect', (connack) => {
      this.metrics.mqttConnected = true;
      log.info({ sessionPresent: connack.sessionPresent }, 'connected to broker');
      client.publish(SERVICE_CERTIFICATES_TOPIC, announcement, { qos: 1, retain: true });
      client.subscribe([...SERVICE_SUBSCRIPTIONS], { qos: 1 }, (error) => {
        if (error) log.error({ err: error.message }, 'subscribe failed');
        else this.subscribed = true;
      });
    });
    client.on('close', () => {
      this.metrics.mqttConnected = false;
      this.subscribed = false;
    });
    client.on('error', (error) => log.warn({ err: error.message }, 'mqtt error'));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no connection to ${config.mqttUrl} within 15 s`)), 15_000);
      client.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Stops taking messages, commits what was taken, acknowledges it, then closes everything. */
  async stop(): Promise<void> {
    clearInterval(this.purgeTimer);
    this.brokerLog?.stop();
    this.revocations?.stop();
    const client = this.client;
    if (client) {
      await new Promise<void>((resolve) => {
        client.handleMessage = (_packet, done) => done(new Error('shutting down'));
        // Commit, acknowledge and answer the last group while the connection can still carry it.
        setImmediate(() => {
          this.acks?.flush();
          client.end(false, {}, () => resolve());
        });
      });
    }
    this.acks?.flush(); // nothing should be left; if it is, it commits before the database closes
    await this.http.close();
    this.store.close();
    this.log.info('stopped');
  }
}

/** Loads and checks the service's own certificates before anything is published or accepted. */
function loadServiceKeys(config: KeyServiceConfig, trust: TrustStore) {
  const now = Date.now();
  const clientCert = new X509Certificate(readFileSync(config.clientCertFile));
  if (!clientCert.subject.split('\n').includes(`CN=${config.serviceName}`)) {
    throw new Error(`client certificate CN must be ${config.serviceName} (the broker ACL's service identity)`);
  }
  const ecPem = readFileSync(config.kexEcCertFile, 'utf8');
  const ecKey = createPrivateKey(readFileSync(config.kexEcKeyFile));
  const ec = trust.verifyServiceCertificate(pemToDer(ecPem), config.serviceName, 'ecdhP256', now);
  const keys: ServiceKeyMaterial = { ecdh: { certFingerprint: ec.fingerprint, privateKey: ecdhFromPrivateKey(ecKey) } };
  const announced: Partial<Record<KexScheme, string>> = { ecdhP256: ecPem };
  if (config.kexRsaCertFile && config.kexRsaKeyFile) {
    const rsaPem = readFileSync(config.kexRsaCertFile, 'utf8');
    const rsa = trust.verifyServiceCertificate(pemToDer(rsaPem), config.serviceName, 'rsaOaepSha256', now);
    keys.rsa = { certFingerprint: rsa.fingerprint, privateKey: createPrivateKey(readFileSync(config.kexRsaKeyFile)) };
    announced.rsaOaepSha256 = rsaPem;
  }
  return {
    keys,
    announcement: encodeServiceCertificates(announced),
    vaultSecret: Buffer.from(ecKey.export({ format: 'jwk' }).d ?? '', 'base64url'),
  };
}
