/**
 * The one place mosquitto.conf and the ACL file are rendered, from typed inputs. The local stack and
 * the Pulumi program both import it, so the broker that tests exercise is the broker that ships.
 */

import { DEVICE_ID_PATTERN, isValidDeviceId } from '../protocol/topics.js';
export type TlsMinimumVersion = 'tlsv1.2' | 'tlsv1.3';

export interface BrokerLimits {
  /** Largest PUBLISH payload accepted, bytes; larger ones are dropped by the broker. */
  messageSizeLimit: number;
  maxConnections: number;
  /** Per-client queue while a persistent client is offline; sized so the service can be down for a while. */
  maxQueuedMessages: number;
  maxInflightMessages: number;
}

export const DEFAULT_BROKER_LIMITS: BrokerLimits = {
  messageSizeLimit: 16 * 1024,
  maxConnections: 20_000,
  maxQueuedMessages: 200_000,
  maxInflightMessages: 100,
};

/**
 * TLS 1.2 suites: forward-secret ECDHE with AEAD ciphers only. TLS 1.3 suites are all AEAD and stay
 * at OpenSSL's defaults.
 */
export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

export interface MosquittoConfigInput {
  port: number;
  /** Interface to bind; omit to listen on all (inside a container). */
  bindAddress?: string;
  tlsMinimumVersion: TlsMinimumVersion;
  caFile: string;
  certFile: string;
  keyFile: string;
  aclFile: string;
  /** Certificate revocation list in PEM; optional. */
  crlFile?: string;
  /** Directory for the persistence database, or undefined to keep state in memory only. */
  persistenceLocation?: string;
  limits?: Partial<BrokerLimits>;
  /** Log to this file (flushed per line) instead of stdout; stdout suits containers. */
  logFile?: string;
}

export class BrokerConfigError extends Error {
  override readonly name = 'BrokerConfigError';
}

/** Values land in a line-based file: anything that could start a new directive is refused. */
function safeValue(field: string, value: string): string {
  if (value.length === 0 || /[\r\n\0]/.test(value) || value.trim() !== value) {
    throw new BrokerConfigError(`${field} must be a non-empty single-line value without surrounding spaces`);
  }
  return value;
}

function positiveInt(field: string, value: number, max = 2 ** 31 - 1): number {
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new BrokerConfigError(`${field} must be an integer in 1..${max}, got ${value}`);
  }
  return value;
}

export function renderMosquittoConf(input: MosquittoConfigInput): string {
  const limits = { ...DEFAULT_BROKER_LIMITS, ...input.limits };
  if (input.tlsMinimumVersion !== 'tlsv1.2' && input.tlsMinimumVersion !== 'tlsv1.3') {
    throw new BrokerConfigError(`tlsMinimumVersion must be tlsv1.2 or tlsv1.3, got ${String(input.tlsMinimumVersion)}`);
  }
  const lines = [
    '# Rendered by broker-config/mosquitto-config.ts. Do not edit: change the inputs instead.',
    '# Only the TLS listener below exists; there is no plain-text listener.',
    'per_listener_settings false',
    'allow_anonymous false',
    `acl_file ${safeValue('aclFile', input.aclFile)}`,
    '',
    ...(input.persistenceLocation
      ? ['persistence true', `persistence_location ${safeValue('persistenceLocation', ensureSlash(input.persistenceLocation))}`, 'autosave_interval 5']
      : ['persistence false']),
    // Sessions of clients gone for a week are dropped rather than kept (and queued for) forever.
    'persistent_client_expiration 7d',
    `message_size_limit ${positiveInt('messageSizeLimit', limits.messageSizeLimit, 268_435_455)}`,
    `max_queued_messages ${positiveInt('maxQueuedMessages', limits.maxQueuedMessages)}`,
    `max_inflight_messages ${positiveInt('maxInflightMessages', limits.maxInflightMessages, 65_535)}`,
    // Without it every mutual-TLS handshake stalls on Nagle's algorithm (about 48 ms each).
    'set_tcp_nodelay true',
    input.logFile ? `log_dest file ${safeValue('logFile', input.logFile)}` : 'log_dest stdout',
    'log_type error',
    'log_type warning',
    'log_type notice',
    'log_type information',
    'log_timestamp_format %Y-%m-%dT%H:%M:%S',
    'connection_messages true',
    '',
    `listener ${positiveInt('port', input.port, 65_535)}${input.bindAddress ? ` ${safeValue('bindAddress', input.bindAddress)}` : ''}`,
    'protocol mqtt',
    `max_connections ${positiveInt('maxConnections', limits.maxConnections)}`,
    `cafile ${safeValue('caFile', input.caFile)}`,
    `certfile ${safeValue('certFile', input.certFile)}`,
    `keyfile ${safeValue('keyFile', input.keyFile)}`,
    ...(input.crlFile ? [`crlfile ${safeValue('crlFile', input.crlFile)}`] : []),
    `tls_version ${input.tlsMinimumVersion}`,
    `ciphers ${TLS12_CIPHERS}`,
    'require_certificate true',
    'use_identity_as_username true',
    '',
  ];
  return lines.join('\n');
}

function ensureSlash(path: string): string {
  return path.endsWith('/') ? path : `${path}/`;
}

export interface AclInput {
  /** Certificate CN of the key service. Must not look like a device id (it contains a '.'). */
  serviceIdentity: string;
  /** Identities allowed to read (ciphertext) telemetry, e.g. an auditor or archiver; never to write. */
  telemetryReaders?: string[];
  /**
   * Devices cut off by configuration (e.g. one flooding the service): every publish and subscription
   * refused by the broker, also on connections already open once Mosquitto re-reads the ACL (SIGHUP).
   */
  blockedDevices?: string[];
}

/** Service-side identities carry a '.', which device ids cannot: a device can never take their names. */
const SERVICE_IDENTITY = /^[a-z0-9-]+(\.[a-z0-9-]+)+$/;

export function isServiceIdentity(id: string): boolean {
  return SERVICE_IDENTITY.test(id);
}

export function renderAclFile(input: AclInput): string {
  const identities = [input.serviceIdentity, ...(input.telemetryReaders ?? [])];
  for (const identity of identities) {
    if (!isServiceIdentity(identity)) {
      throw new BrokerConfigError(`service identity "${identity}" must be dot-separated [a-z0-9-] labels, e.g. key-service.svc`);
    }
  }
  const lines = [
    '# Rendered by broker-config/mosquitto-config.ts. User names are certificate CNs.',
    '# Every device: write only its own telemetry and key-exchange topics, read only its own control',
    '# topic and the key service certificates. A wildcard subscription is accepted but delivers nothing else.',
    'pattern write devices/%u/telemetry',
    'pattern write devices/%u/kex',
    'pattern read devices/%u/control',
    'pattern read services/key-service/certificates',
    '',
    '# The key service: reads every device, answers on control topics, publishes its certificates.',
    `user ${input.serviceIdentity}`,
    'topic read devices/+/telemetry',
    'topic read devices/+/kex',
    'topic write devices/+/control',
    'topic write services/key-service/certificates',
  ];
  for (const reader of input.telemetryReaders ?? []) {
    lines.push('', '# Read-only telemetry observer: sees ciphertext only.', `user ${reader}`, 'topic read devices/+/telemetry');
  }
  for (const device of input.blockedDevices ?? []) {
    if (!isValidDeviceId(device)) throw new BrokerConfigError(`blocked device "${device}" must be a device id (${DEVICE_ID_PATTERN})`);
    // A user's own deny rule is checked before the patterns above, so it overrides them.
    lines.push('', '# Cut off by configuration.', `user ${device}`, 'topic deny #');
  }
  lines.push('');
  return lines.join('\n');
}
