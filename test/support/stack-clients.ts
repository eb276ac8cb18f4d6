import { readFileSync } from 'node:fs';
import { connect as tlsConnect, type SecureVersion } from 'node:tls';
import mqtt, { type MqttClient } from 'mqtt';
import { sampleValue } from '../../services/key-service/metrics.js';
import type { Credential } from '../../local/throwaway-pki.js';

export interface BrokerAddress {
  host: string;
  port: number;
  caPem: string;
}

/** Connects with MQTT 5 over TLS; rejects if the broker refuses (TLS alert, closed socket, CONNACK error). */
export function connectAs(broker: BrokerAddress, credential: Partial<Credential>, clientId: string): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(`mqtts://${broker.host}:${broker.port}`, {
      clientId,
      protocolVersion: 5,
      ca: broker.caPem,
      ...(credential.certPem ? { cert: credential.certPem } : {}),
      ...(credential.keyPem ? { key: credential.keyPem } : {}),
      reconnectPeriod: 0,
      connectTimeout: 5_000,
    });
    const fail = (error?: Error) => {
      client.end(true);
      reject(error ?? new Error('connection closed before CONNACK'));
    };
    client.once('connect', () => {
      client.removeListener('error', fail);
      client.removeListener('close', fail);
      resolve(client);
    });
    client.once('error', fail);
    client.once('close', fail);
  });
}

/** A bare TLS handshake pinned to one protocol version, with a client certificate. */
export function tlsHandshake(broker: BrokerAddress, credential: Credential, version: SecureVersion): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      host: broker.host,
      port: broker.port,
      ca: broker.caPem,
      cert: credential.certPem,
      key: credential.keyPem,
      minVersion: version,
      maxVersion: version,
      // Let this client offer legacy protocols at all, so the refusal measured is the broker's.
      ciphers: 'DEFAULT:@SECLEVEL=0',
    });
    socket.once('secureConnect', () => {
      const protocol = socket.getProtocol() ?? 'unknown';
      socket.destroy();
      resolve(protocol);
    });
    socket.once('error', (error) => {
      socket.destroy();
      reject(error);
    });
  });
}

export class ApiClient {
  constructor(readonly url: string) {}

  async metric(sample: string): Promise<number> {
    const text = await (await fetch(`${this.url}/metrics`)).text();
    return sampleValue(text, sample) ?? Number.NaN;
  }

  async json<T>(path: string): Promise<T> {
    const response = await fetch(`${this.url}${path}`);
    if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
    return (await response.json()) as T;
  }
}

/** Polls until the check passes or the time is up; the last failure is what the test reports. */
export async function eventually<T>(check: () => Promise<T> | T, timeoutMs = 10_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  }
}

export function readCredential(paths: { certPath: string; keyPath: string }): Credential {
  return { certPem: readFileSync(paths.certPath, 'utf8'), keyPem: readFileSync(paths.keyPath, 'utf8') };
}
