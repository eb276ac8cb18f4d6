import { once } from 'node:events';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { MqttClient } from 'mqtt';

/** One publishing connection: the raw baseline publisher or a device sealing envelopes. */
export interface Lane {
  client: MqttClient;
  topic: string;
  /** The next payload; for devices this seals a fresh envelope, so sealing is part of the cost. */
  next(): Buffer;
}

/**
 * Publishes `total` messages spread evenly over the lanes as fast as flow control allows.
 * QoS 1: at most `window` unacknowledged per lane (Mosquitto's max_inflight_messages is 100, and a
 * client must not exceed the broker's receive maximum). QoS 0: no acknowledgements, so the socket's
 * own back-pressure (drain) is the limit. Resolves when everything has been written or acknowledged.
 */
export async function publishAll(lanes: readonly Lane[], total: number, qos: 0 | 1, window = 100): Promise<void> {
  const quotas = lanes.map((_, i) => Math.floor(total / lanes.length) + (i < total % lanes.length ? 1 : 0));
  await Promise.all(lanes.map((lane, i) => (qos === 1 ? publishQos1(lane, quotas[i] ?? 0, window) : publishQos0(lane, quotas[i] ?? 0))));
}

function publishQos1(lane: Lane, quota: number, window: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let sent = 0;
    let acked = 0;
    let failed = false;
    const pump = () => {
      while (sent < quota && sent - acked < window) {
        sent++;
        lane.client.publish(lane.topic, lane.next(), { qos: 1 }, (error) => {
          if (failed) return;
          if (error) {
            failed = true;
            return reject(error);
          }
          acked++;
          if (acked === quota) resolve();
          else pump();
        });
      }
    };
    if (quota === 0) resolve();
    else pump();
  });
}

async function publishQos0(lane: Lane, quota: number): Promise<void> {
  const stream = lane.client.stream as unknown as NodeJS.WritableStream & { writableNeedDrain: boolean };
  for (let sent = 0; sent < quota; sent++) {
    if (stream.writableNeedDrain) await once(stream, 'drain');
    lane.client.publish(lane.topic, lane.next(), { qos: 0 });
    // Let incoming packets (and the other lanes) run now and then.
    if ((sent & 255) === 255) await yieldToLoop();
  }
}
