import { createPrivateKey, randomInt } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { pemToDer, type TrustStore, type VerifiedCertificate } from '../protocol/certificates.js';
import { decodeControlMessage } from '../protocol/control.js';
import { sealEnvelope } from '../protocol/envelope.js';
import { createKexRequest, type DeviceIdentity } from '../protocol/kex.js';
import { encodeReadings, type Reading } from '../protocol/readings.js';
import { decodeServiceCertificates } from '../protocol/service-certificates.js';
import { isValidKeyConfirmation, type SessionKeys } from '../protocol/session-keys.js';
import { deviceTopic, SERVICE_CERTIFICATES_TOPIC } from '../protocol/topics.js';
import type { KexScheme } from '../protocol/wire.js';
import type { Credential } from '../local/throwaway-pki.js';
import { clientOptions, connectClient } from './mqtt-connect.js';

/** Bytes one telemetry envelope takes: 16 header + 1 count + 10 per reading + 16 tag (docs/protocol.md). */
export function envelopeBytes(readingsPerEnvelope: number): number {
  return 16 + 1 + 10 * readingsPerEnvelope + 16;
}

/**
 * A device built directly on the protocol module (what SimulatedDevice does, minus its sampling
 * timer, sensor model and offline buffer), so a benchmark controls exactly when and what it sends.
 */
export class ProtocolDevice {
  readonly telemetryTopic: string;
  private readonly identity: DeviceIdentity;
  private readonly scheme: KexScheme;
  private keys: SessionKeys | undefined;
  private keyId = 0;
  private seq = 0;

  private constructor(
    readonly id: string,
    readonly client: MqttClient,
    privateKeyPem: string,
    certPem: string,
  ) {
    const privateKey = createPrivateKey(privateKeyPem);
    this.identity = { deviceId: id, certificateDer: pemToDer(certPem), privateKey };
    this.scheme = privateKey.asymmetricKeyType === 'rsa' ? 'rsaOaepSha256' : 'ecdhP256';
    this.telemetryTopic = deviceTopic(id, 'telemetry');
  }

  static async connect(url: string, caPem: string, id: string, credential: Credential): Promise<ProtocolDevice> {
    const client = await connectClient(url, clientOptions(caPem, credential, id));
    return new ProtocolDevice(id, client, credential.keyPem, credential.certPem);
  }

  /**
   * The full exchange over the broker: read the retained service certificates, verify the one for
   * this scheme against the CA (a shared TrustStore: the simulator's cost is not what is measured),
   * send a signed request, and accept the key only with a valid confirmation.
   */
  keyExchange(trust: TrustStore, serviceName: string, timeoutMs = 60_000): Promise<void> {
    const { client, id } = this;
    return new Promise((resolve, reject) => {
      let keyId = -1;
      let pending: SessionKeys | undefined;
      const timer = setTimeout(() => finish(new Error(`${id}: no kex-ack within ${timeoutMs} ms`)), timeoutMs);
      const finish = (error?: Error) => {
        clearTimeout(timer);
        client.removeListener('message', onMessage);
        if (error) reject(error);
        else resolve();
      };
      const onMessage = (topic: string, payload: Buffer) => {
        try {
          if (topic === SERVICE_CERTIFICATES_TOPIC) {
            if (pending) return;
            const pem = decodeServiceCertificates(payload).certificates[this.scheme];
            if (!pem) return finish(new Error(`${id}: service announces no ${this.scheme} certificate`));
            const service: VerifiedCertificate = trust.verifyServiceCertificate(pemToDer(pem), serviceName, this.scheme, Date.now());
            keyId = randomInt(0, 0xffffffff);
            const request = createKexRequest({ identity: this.identity, service, scheme: this.scheme, keyId, now: Date.now() });
            pending = request.keys;
            client.publish(deviceTopic(id, 'kex'), request.message, { qos: 1 });
            return;
          }
          const message = decodeControlMessage(payload);
          if (message.type !== 'kex-ack' || message.keyId !== keyId || !pending) return;
          if (!isValidKeyConfirmation(pending, id, keyId, Buffer.from(message.confirmation, 'base64'))) {
            return finish(new Error(`${id}: bad key confirmation`));
          }
          this.keys = pending;
          this.keyId = keyId;
          this.seq = 0;
          finish();
        } catch (error) {
          finish(error instanceof Error ? error : new Error(String(error)));
        }
      };
      client.on('message', onMessage);
      client.subscribe([deviceTopic(id, 'control'), SERVICE_CERTIFICATES_TOPIC], { qos: 1 }, (error) => {
        if (error) finish(error);
      });
    });
  }

  /** Seals readings under the session key with the next sequence number. */
  seal(readings: readonly Reading[], now = Date.now()): Buffer {
    if (!this.keys) throw new Error(`${this.id}: no session key yet`);
    return sealEnvelope(this.keys.encryptionKey, this.id, { keyId: this.keyId, seq: this.seq++, sentAt: now }, encodeReadings(readings));
  }
}

/** `count` identical readings taken at `now`: takenAt doubles as the send time for latency. */
export function readingsAt(now: number, count: number): Reading[] {
  const readings: Reading[] = new Array(count);
  for (let i = 0; i < count; i++) readings[i] = { takenAt: now, temperatureC: 21.5, humidityPct: 40.25 };
  return readings;
}
