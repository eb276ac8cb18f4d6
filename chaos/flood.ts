import { randomBytes } from 'node:crypto';
import mqtt from 'mqtt';
import type { Credential } from '../local/throwaway-pki.js';
import { deviceTopic } from '../protocol/topics.js';

export type FloodKind = 'replayed' | 'garbage' | 'tampered' | 'unknown-key';
const KINDS: FloodKind[] = ['replayed', 'garbage', 'tampered', 'unknown-key'];

export interface FloodOptions {
  brokerUrl: string;
  caPem: string;
  /** A valid device identity: the broker admits it, only its payloads are hostile. */
  deviceId: string;
  credential: Credential;
  /** Real envelopes this device sent earlier (captured ciphertext): replayed and tampered with. */
  captured: readonly Buffer[];
  messages: number;
  /** QoS 1 publishes awaiting the broker's PUBACK at once. */
  concurrency?: number;
}

export interface FloodResult {
  /** Publishes the broker acknowledged (and so passed on to the service). */
  accepted: number;
  /** Publishes the broker refused (PUBACK reason >= 0x80, e.g. 135 once the device is cut off). */
  refusedByBroker: number;
}

/** A hostile payload of each kind in turn, built from the captured envelopes. */
function hostilePayload(kind: FloodKind, captured: readonly Buffer[], i: number): Buffer {
  const base = captured[i % captured.length]!;
  switch (kind) {
    case 'replayed':
      return base;
    case 'garbage':
      return randomBytes(1 + (i % 200));
    case 'tampered': {
      const copy = Buffer.from(base);
      copy[copy.length - 1 - (i % 16)]! ^= 0x01; // inside the GCM tag
      return copy;
    }
    case 'unknown-key': {
      const copy = Buffer.from(base);
      copy.writeUInt32BE((copy.readUInt32BE(2) + 1 + i) >>> 0, 2);
      return copy;
    }
  }
}

/**
 * Floods the device's own telemetry topic from its valid identity, as fast as the broker takes QoS 1
 * publishes: replays of real envelopes, random bytes, envelopes with a flipped tag bit or another key id.
 */
export async function flood(options: FloodOptions): Promise<FloodResult> {
  if (options.captured.length === 0) throw new Error('flood needs at least one captured envelope');
  const client = await mqtt.connectAsync(options.brokerUrl, {
    clientId: `${options.deviceId}-flood`,
    protocolVersion: 5,
    ca: options.caPem,
    cert: options.credential.certPem,
    key: options.credential.keyPem,
    reconnectPeriod: 0,
  });
  const result: FloodResult = { accepted: 0, refusedByBroker: 0 };
  const topic = deviceTopic(options.deviceId, 'telemetry');
  let next = 0;
  const worker = async () => {
    while (next < options.messages) {
      const i = next++;
      const kind = KINDS[i % KINDS.length]!;
      try {
        const ack = (await client.publishAsync(topic, hostilePayload(kind, options.captured, i), { qos: 1 })) as { reasonCode?: number } | undefined;
        if ((ack?.reasonCode ?? 0) >= 0x80) result.refusedByBroker++;
        else {
          result.accepted++;
        }
      } catch {
        result.refusedByBroker++; // mqtt.js rejects on a PUBACK reason >= 0x80 ("Not authorized")
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 64 }, worker));
  await client.endAsync();
  return result;
}
