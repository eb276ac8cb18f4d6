import type { ConnectionOptions } from 'node:tls';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Credential } from '../local/throwaway-pki.js';

/**
 * Every benchmark client: MQTT 5 over mutual TLS pinned to TLS 1.3 (the broker's renderer allows
 * 1.2+, so the pin makes the measured protocol explicit), no automatic reconnects (a dropped
 * connection must show up as a failure, not as a slow run).
 */
export function clientOptions(caPem: string, credential: Credential, clientId: string, extra: Partial<IClientOptions> = {}): IClientOptions {
  const tls: ConnectionOptions = { minVersion: 'TLSv1.3' };
  return {
    clientId,
    protocolVersion: 5,
    clean: true,
    ca: caPem,
    cert: credential.certPem,
    key: credential.keyPem,
    rejectUnauthorized: true,
    reconnectPeriod: 0,
    connectTimeout: 60_000,
    ...(tls as Partial<IClientOptions>),
    ...extra,
  };
}

/** Resolves on CONNACK; rejects on an error or a close before it. */
export function connectClient(url: string, options: IClientOptions): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, options);
    const fail = (error?: Error) => {
      client.removeAllListeners('connect');
      client.end(true);
      reject(error ?? new Error(`${options.clientId}: closed before CONNACK`));
    };
    client.once('error', fail);
    client.once('close', fail);
    client.once('connect', () => {
      client.removeListener('error', fail);
      client.removeListener('close', fail);
      client.on('error', () => undefined); // a later error surfaces as a stalled run
      resolve(client);
    });
  });
}

export function endClient(client: MqttClient, force = false): Promise<void> {
  return new Promise((resolve) => client.end(force, {}, () => resolve()));
}

/** The negotiated TLS version of a connected client, e.g. 'TLSv1.3'. */
export function tlsVersionOf(client: MqttClient): string {
  const stream = client.stream as unknown as { getProtocol?: () => string | null };
  return stream.getProtocol?.() ?? 'unknown';
}
