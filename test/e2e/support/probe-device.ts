import { createPrivateKey, randomInt } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { pemToDer, TrustStore } from '../../../protocol/certificates.js';
import { decodeControlMessage } from '../../../protocol/control.js';
import { sealEnvelope } from '../../../protocol/envelope.js';
import { createKexRequest, type DeviceIdentity } from '../../../protocol/kex.js';
import { encodeReadings, type Reading } from '../../../protocol/readings.js';
import { decodeServiceCertificates } from '../../../protocol/service-certificates.js';
import { isValidKeyConfirmation, type SessionKeys } from '../../../protocol/session-keys.js';
import { deviceTopic, SERVICE_CERTIFICATES_TOPIC } from '../../../protocol/topics.js';
import type { Credential } from '../../../local/throwaway-pki.js';
import { connectAs, type BrokerAddress } from '../../support/stack-clients.js';

/**
 * A device driven step by step by the suite: it runs the real key exchange, then seals envelopes with
 * chosen sequence numbers, so replays and tampering can be aimed precisely.
 */
export class ProbeDevice {
  private keys: SessionKeys | undefined;
  keyId = 0;

  private constructor(
    readonly client: MqttClient,
    readonly identity: DeviceIdentity,
    private readonly caPem: string,
    private readonly serviceName: string,
  ) {}

  static async connect(broker: BrokerAddress, credential: Credential, deviceId: string, serviceName: string, clientId = deviceId): Promise<ProbeDevice> {
    const client = await connectAs(broker, credential, clientId);
    const identity = { deviceId, certificateDer: pemToDer(credential.certPem), privateKey: createPrivateKey(credential.keyPem) };
    return new ProbeDevice(client, identity, broker.caPem, serviceName);
  }

  /** The service's key-agreement certificate for this device's scheme, checked against the CA. */
  async serviceCertificate() {
    const scheme = this.identity.privateKey.asymmetricKeyType === 'rsa' ? ('rsaOaepSha256' as const) : ('ecdhP256' as const);
    const payload = await new Promise<Buffer>((resolve) => {
      const onMessage = (topic: string, message: Buffer) => {
        if (topic !== SERVICE_CERTIFICATES_TOPIC) return;
        this.client.removeListener('message', onMessage);
        resolve(message);
      };
      this.client.on('message', onMessage);
      void this.client.subscribeAsync(SERVICE_CERTIFICATES_TOPIC, { qos: 1 });
    });
    const pem = decodeServiceCertificates(payload).certificates[scheme]!;
    return { scheme, service: new TrustStore(this.caPem).verifyServiceCertificate(pemToDer(pem), this.serviceName, scheme, Date.now()) };
  }

  /** Runs a key exchange and waits for the service's confirmed acknowledgement. */
  async keyExchange(identity: DeviceIdentity = this.identity, timeoutMs = 10_000): Promise<void> {
    const { scheme, service } = await this.serviceCertificate();
    const keyId = randomInt(1, 0xffffffff);
    const request = createKexRequest({ identity, service, scheme, keyId, now: Date.now() });
    await this.client.subscribeAsync(deviceTopic(this.identity.deviceId, 'control'), { qos: 1 });
    const acknowledged = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no kex-ack within ${timeoutMs} ms`)), timeoutMs);
      const onMessage = (topic: string, message: Buffer) => {
        if (topic !== deviceTopic(this.identity.deviceId, 'control')) return;
        const control = decodeControlMessage(message);
        if (control.type !== 'kex-ack' || control.keyId !== keyId) return;
        if (!isValidKeyConfirmation(request.keys, this.identity.deviceId, keyId, Buffer.from(control.confirmation, 'base64'))) return;
        clearTimeout(timer);
        this.client.removeListener('message', onMessage);
        resolve();
      };
      this.client.on('message', onMessage);
    });
    await this.client.publishAsync(deviceTopic(this.identity.deviceId, 'kex'), request.message, { qos: 1 });
    await acknowledged;
    this.keys = request.keys;
    this.keyId = keyId;
  }

  seal(seq: number, readings: Reading[]): Buffer {
    if (!this.keys) throw new Error('no session: run keyExchange first');
    return sealEnvelope(this.keys.encryptionKey, this.identity.deviceId, { keyId: this.keyId, seq, sentAt: Date.now() }, encodeReadings(readings));
  }

  async publishTelemetry(envelope: Buffer, qos: 0 | 1 = 1): Promise<void> {
    await this.client.publishAsync(deviceTopic(this.identity.deviceId, 'telemetry'), envelope, { qos });
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}
