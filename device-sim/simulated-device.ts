import { createPrivateKey, randomInt } from 'node:crypto';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { pemToDer, TrustStore, type VerifiedCertificate } from '../protocol/certificates.js';
import { decodeControlMessage } from '../protocol/control.js';
import { sealEnvelope } from '../protocol/envelope.js';
import { isProtocolError } from '../protocol/errors.js';
import { createKexRequest, type DeviceIdentity } from '../protocol/kex.js';
import { encodeReadings, MAX_READINGS_PER_BATCH, type Reading } from '../protocol/readings.js';
import { DEFAULT_ROTATION, isRotationDue, type RotationPolicy } from '../protocol/rotation.js';
import { decodeServiceCertificates } from '../protocol/service-certificates.js';
import { isValidKeyConfirmation, type SessionKeys } from '../protocol/session-keys.js';
import { deviceTopic, SERVICE_CERTIFICATES_TOPIC } from '../protocol/topics.js';
import type { KexScheme } from '../protocol/wire.js';
import { ExponentialBackoff } from './backoff.js';
import { SensorModel } from './sensor-model.js';

export interface SimulatedDeviceOptions {
  deviceId: string;
  certPem: string;
  keyPem: string;
  caPem: string;
  brokerUrl: string;
  /** CN the service's key-agreement certificate must carry. */
  serviceName: string;
  intervalMs: number;
  /** Readings per envelope. */
  batchSize: number;
  rotation?: RotationPolicy;
  /** Readings kept while offline; beyond it the oldest are dropped and counted. */
  maxBufferedReadings?: number;
  /** A key exchange unanswered for this long is sent again, freshly. */
  kexRetryMs?: number;
  backoff?: { minMs: number; maxMs: number };
  /** Replaces the sensor model, e.g. with readings a test wants to recognise. */
  readingSource?: (now: number) => Reading;
  /** Called once the broker acknowledged an envelope carrying these readings. */
  onDelivered?: (readings: readonly Reading[], meta: { keyId: number; seq: number }) => void;
  mqttOptions?: Partial<IClientOptions>;
}

export interface DeviceStats {
  taken: number;
  delivered: number;
  buffered: number;
  dropped: number;
  inFlight: number;
  keyExchanges: number;
  badAcks: number;
  connected: boolean;
  sessionKeyId: number | undefined;
}

/** An envelope sealed and sent but not yet acknowledged by the broker; resent after a reconnect. */
interface OutboxEntry {
  envelope: Buffer;
  readings: Reading[];
  keyId: number;
  seq: number;
}

interface Session {
  keyId: number;
  keys: SessionKeys;
  nextSeq: number;
  establishedAt: number;
}

/** One device: its own certificate, its own session keys, QoS 1 delivery and an offline buffer. */
export class SimulatedDevice {
  private readonly identity: DeviceIdentity;
  private readonly scheme: KexScheme;
  private readonly trust: TrustStore;
  private readonly backoff: ExponentialBackoff;
  private readonly source: (now: number) => Reading;
  private readonly rotation: RotationPolicy;
  private client: MqttClient | undefined;
  private service: VerifiedCertificate | undefined;
  private session: Session | undefined;
  private readonly pending = new Map<number, SessionKeys>();
  private lastKexAt = 0;
  private buffer: Reading[] = [];
  private readonly outbox = new Map<string, OutboxEntry>();
  private sampler: NodeJS.Timeout | undefined;
  private kexTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  readonly stats: DeviceStats = {
    taken: 0,
    delivered: 0,
    buffered: 0,
    dropped: 0,
    inFlight: 0,
    keyExchanges: 0,
    badAcks: 0,
    connected: false,
    sessionKeyId: undefined,
  };

  constructor(private readonly options: SimulatedDeviceOptions) {
    if (!(options.batchSize >= 1 && options.batchSize <= MAX_READINGS_PER_BATCH)) {
      throw new RangeError(`batchSize must be 1..${MAX_READINGS_PER_BATCH}`);
    }
    const privateKey = createPrivateKey(options.keyPem);
    this.identity = { deviceId: options.deviceId, certificateDer: pemToDer(options.certPem), privateKey };
    this.scheme = privateKey.asymmetricKeyType === 'rsa' ? 'rsaOaepSha256' : 'ecdhP256';
    this.trust = new TrustStore(options.caPem);
    this.backoff = new ExponentialBackoff(options.backoff?.minMs ?? 1_000, options.backoff?.maxMs ?? 60_000);
    this.rotation = options.rotation ?? DEFAULT_ROTATION;
    const model = new SensorModel(options.deviceId);
    this.source = options.readingSource ?? ((now) => model.at(now));
  }

  get deviceId(): string {
    return this.options.deviceId;
  }

  start(): void {
    this.connect();
    this.sampler = setInterval(() => this.sample(), this.options.intervalMs);
  }

  /**
   * One MQTT client per connection attempt. The device keeps its own outbox of unacknowledged
   * envelopes and resends them on the next connection, rather than relying on the client library's
   * resend: a publish racing a broker shutdown must not be lost. Repeats are harmless; the service
   * recognises them as duplicates.
   */
  private connect(): void {
    const { options } = this;
    const client = mqtt.connect(options.brokerUrl, {
      clientId: options.deviceId,
      protocolVersion: 5,
      // A persistent session keeps a kex-ack or re-key request that arrives while the device is away.
      clean: false,
      properties: { sessionExpiryInterval: 86_400 },
      ca: options.caPem,
      cert: options.certPem,
      key: options.keyPem,
      rejectUnauthorized: true,
      reconnectPeriod: 0, // reconnects are scheduled here, with back-off and jitter
      connectTimeout: 10_000,
      ...options.mqttOptions,
    });
    this.client = client;
    client.on('connect', () => {
      this.stats.connected = true;
      this.backoff.reset();
      client.subscribe([deviceTopic(options.deviceId, 'control'), SERVICE_CERTIFICATES_TOPIC], { qos: 1 });
      for (const entry of this.outbox.values()) this.send(client, entry);
      this.pump();
    });
    client.on('message', (topic, payload) => this.onMessage(topic, payload));
    client.once('close', () => {
      this.stats.connected = false;
      client.end(true);
      if (this.stopping) return;
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = setTimeout(() => this.connect(), this.backoff.next());
    });
    client.on('error', () => undefined); // 'close' follows; the retry is scheduled there
  }

  private sample(): void {
    this.buffer.push(this.source(Date.now()));
    this.stats.taken++;
    const max = this.options.maxBufferedReadings ?? 100_000;
    if (this.buffer.length > max) {
      this.stats.dropped += this.buffer.length - max;
      this.buffer.splice(0, this.buffer.length - max);
    }
    this.stats.buffered = this.buffer.length;
    this.pump();
  }

  private onMessage(topic: string, payload: Buffer): void {
    try {
      if (topic === SERVICE_CERTIFICATES_TOPIC) return this.onServiceCertificates(payload);
      const message = decodeControlMessage(payload);
      if (message.type === 'rekey') return this.startKeyExchange(true);
      const keys = this.pending.get(message.keyId);
      if (!keys || !isValidKeyConfirmation(keys, this.options.deviceId, message.keyId, Buffer.from(message.confirmation, 'base64'))) {
        this.stats.badAcks++;
        return;
      }
      this.pending.clear();
      clearTimeout(this.kexTimer);
      this.session = { keyId: message.keyId, keys, nextSeq: 0, establishedAt: Date.now() };
      this.stats.sessionKeyId = message.keyId;
      this.pump();
    } catch (error) {
      if (!isProtocolError(error)) throw error;
      this.stats.badAcks++;
    }
  }

  /** Accepts the service key only if the stack CA vouches for it under the expected service name. */
  private onServiceCertificates(payload: Buffer): void {
    const pem = decodeServiceCertificates(payload).certificates[this.scheme];
    if (!pem) return;
    const verified = this.trust.verifyServiceCertificate(pemToDer(pem), this.options.serviceName, this.scheme, Date.now());
    const changed = !this.service?.fingerprint.equals(verified.fingerprint);
    this.service = verified;
    if (changed && this.session) this.startKeyExchange(true);
    else if (!this.session) this.startKeyExchange(false);
  }

  private startKeyExchange(force: boolean): void {
    const client = this.client;
    if (!client?.connected || !this.service) return;
    const now = Date.now();
    const retryMs = this.options.kexRetryMs ?? 10_000;
    if (this.pending.size > 0 && now - this.lastKexAt < retryMs && !force) return;
    if (this.pending.size > 0 && now - this.lastKexAt < 1_000) return; // one exchange per second at most
    let keyId: number;
    do keyId = randomInt(0, 0xffffffff);
    while (keyId === this.session?.keyId || this.pending.has(keyId));
    const request = createKexRequest({ identity: this.identity, service: this.service, scheme: this.scheme, keyId, now });
    if (this.pending.size >= 4) this.pending.delete(this.pending.keys().next().value as number);
    this.pending.set(keyId, request.keys);
    this.lastKexAt = now;
    this.stats.keyExchanges++;
    client.publish(deviceTopic(this.options.deviceId, 'kex'), request.message, { qos: 1 });
    clearTimeout(this.kexTimer);
    this.kexTimer = setTimeout(() => this.startKeyExchange(true), retryMs);
  }

  /** Seals and publishes buffered readings while connected with an acknowledged session. */
  private pump(flushPartial = false): void {
    const client = this.client;
    const session = this.session;
    if (!client?.connected || !session) return;
    const { batchSize } = this.options;
    while (this.buffer.length >= batchSize || (flushPartial && this.buffer.length > 0)) {
      const readings = this.buffer.splice(0, batchSize);
      const seq = session.nextSeq++;
      const envelope = sealEnvelope(session.keys.encryptionKey, this.options.deviceId, { keyId: session.keyId, seq, sentAt: Date.now() }, encodeReadings(readings));
      const entry: OutboxEntry = { envelope, readings, keyId: session.keyId, seq };
      this.outbox.set(`${session.keyId}:${seq}`, entry);
      this.stats.inFlight = this.outbox.size;
      this.send(client, entry);
      if (isRotationDue(this.rotation, session.nextSeq, session.establishedAt, Date.now())) this.startKeyExchange(false);
    }
    this.stats.buffered = this.buffer.length;
  }

  private send(client: MqttClient, entry: OutboxEntry): void {
    const key = `${entry.keyId}:${entry.seq}`;
    client.publish(deviceTopic(this.options.deviceId, 'telemetry'), entry.envelope, { qos: 1 }, (error) => {
      // Count each envelope once, whichever connection's acknowledgement arrives first.
      if (error || !this.outbox.delete(key)) return;
      this.stats.inFlight = this.outbox.size;
      this.stats.delivered += entry.readings.length;
      this.options.onDelivered?.(entry.readings, { keyId: entry.keyId, seq: entry.seq });
    });
  }

  /**
   * Stops sampling, sends what is buffered if it can and waits up to `drainMs` for the broker to
   * acknowledge in-flight publishes; offline, or after that, it disconnects at once.
   */
  async stop(drainMs = 10_000): Promise<void> {
    clearInterval(this.sampler);
    clearTimeout(this.kexTimer);
    clearTimeout(this.reconnectTimer);
    this.pump(true);
    this.stopping = true;
    const client = this.client;
    if (!client) return;
    // Wait for the broker to acknowledge everything in the outbox, then disconnect.
    const deadline = Date.now() + drainMs;
    while (client.connected && this.outbox.size > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await new Promise<void>((resolve) => client.end(true, {}, () => resolve()));
  }
}
