import { performance } from 'node:perf_hooks';
import type { TrustStore } from '../../protocol/certificates.js';
import { encodeControlMessage, type ControlMessage } from '../../protocol/control.js';
import { openEnvelope, readEnvelopeHeader } from '../../protocol/envelope.js';
import { isProtocolError, refuse, type RefusalCode } from '../../protocol/errors.js';
import { acceptKexRequest, type KexPolicy, type ServiceKeyMaterial } from '../../protocol/kex.js';
import { decodeReadingsAs } from '../../protocol/readings.js';
import { keyConfirmation } from '../../protocol/session-keys.js';
import { deviceTopic, parseDeviceTopic } from '../../protocol/topics.js';
import type { ServiceMetrics } from './metrics.js';
import type { ReadingsStore, StoredReading } from './readings-store.js';
import type { SessionRegistry } from './session-registry.js';

export interface Reply {
  topic: string;
  payload: Buffer;
}

export type HandleResult =
  | { kind: 'accepted'; readings: StoredReading[] }
  | { kind: 'duplicate' }
  | { kind: 'key-exchange'; reply: Reply }
  | { kind: 'rejected'; code: RefusalCode; deviceId: string | undefined; reply?: Reply };

export interface MessageHandlerDeps {
  trust: TrustStore;
  serviceKeys: ServiceKeyMaterial;
  store: ReadingsStore;
  registry: SessionRegistry;
  metrics: ServiceMetrics;
  kexPolicy: KexPolicy;
  /** A device sending under an unknown key is told to re-key, at most this often. */
  rekeyIntervalMs?: number;
}

/**
 * Turns one MQTT message into a verdict: readings to store, a duplicate, an installed session with its
 * acknowledgement, or a counted refusal. It never throws for anything a client can send.
 */
export class MessageHandler {
  private readonly lastRekeyAt = new Map<string, number>();

  constructor(private readonly deps: MessageHandlerDeps) {}

  handle(topic: string, payload: Buffer, now = Date.now()): HandleResult {
    let deviceId: string | undefined;
    try {
      const parsed = parseDeviceTopic(topic);
      deviceId = parsed.deviceId;
      if (parsed.kind === 'telemetry') return this.telemetry(deviceId, payload, now);
      if (parsed.kind === 'kex') return this.keyExchange(deviceId, payload, now);
      return refuse('bad-topic', 'the service does not consume control topics');
    } catch (error) {
      if (!isProtocolError(error)) throw error; // storage failures are not the client's doing
      this.deps.metrics.reject(error.code);
      const reply = error.code === 'unknown-session' && deviceId ? this.rekeyRequest(deviceId, now) : undefined;
      return { kind: 'rejected', code: error.code, deviceId, ...(reply ? { reply } : {}) };
    }
  }

  private telemetry(deviceId: string, envelope: Buffer, now: number): HandleResult {
    const started = performance.now();
    const { keyId, seq } = readEnvelopeHeader(envelope);
    const session = this.deps.registry.find(deviceId, keyId, now);
    if (!session) refuse('unknown-session', 'no live session with this key id');
    // Authenticate before classifying, so duplicate and replay counts only ever hold authentic repeats
    // and any tampering shows up as bad-tag.
    const opened = openEnvelope(session.keys.encryptionKey, deviceId, envelope);
    const verdict = session.window.check(seq);
    if (verdict === 'behind-window') refuse('replay', 'sequence number behind the replay window');
    if (verdict === 'duplicate') {
      this.deps.metrics.duplicates++;
      return { kind: 'duplicate' };
    }
    // Decoded straight into stored rows (plain literals with every field named): this runs per reading.
    const rows = decodeReadingsAs<StoredReading>(opened.plaintext, (takenAt, temperatureC, humidityPct, index) => ({
      deviceId,
      keyId,
      seq,
      index,
      takenAt,
      temperatureC,
      humidityPct,
      receivedAt: now,
    }));
    session.window.accept(seq);
    this.deps.metrics.envelopesAccepted++;
    this.deps.metrics.observeDecrypt((performance.now() - started) / 1000);
    return { kind: 'accepted', readings: rows };
  }

  private keyExchange(deviceId: string, message: Buffer, now: number): HandleResult {
    const { trust, serviceKeys, kexPolicy, store, registry, metrics } = this.deps;
    // The nonce is used up once the signature verifies, even if the exchange is refused after that,
    // so a refused exchange cannot be replayed later. In the running service both writes join the
    // network read's transaction (ack-after-commit.ts) and commit once.
    const accepted = acceptKexRequest(message, deviceId, {
      trust,
      serviceKeys,
      policy: kexPolicy,
      now,
      nonces: { remember: (id, nonce, expiresAt) => store.rememberNonce(id, nonce, expiresAt) },
    });
    registry.install(accepted, now);
    metrics.keyExchange(accepted.scheme);
    this.lastRekeyAt.delete(deviceId);
    const ack: ControlMessage = {
      type: 'kex-ack',
      keyId: accepted.keyId,
      confirmation: keyConfirmation(accepted.keys, deviceId, accepted.keyId).toString('base64'),
    };
    return { kind: 'key-exchange', reply: { topic: deviceTopic(deviceId, 'control'), payload: encodeControlMessage(ack) } };
  }

  private rekeyRequest(deviceId: string, now: number): Reply | undefined {
    const last = this.lastRekeyAt.get(deviceId);
    if (last !== undefined && now - last < (this.deps.rekeyIntervalMs ?? 10_000)) return undefined;
    this.lastRekeyAt.set(deviceId, now);
    return {
      topic: deviceTopic(deviceId, 'control'),
      payload: encodeControlMessage({ type: 'rekey', reason: 'unknown-session' }),
    };
  }
}
