import { isServiceIdentity, type BrokerLimits, type TlsMinimumVersion } from '../broker-config/mosquitto-config.js';
import { isValidDeviceId } from '../protocol/topics.js';
import { normalizeSerial } from '../revocation/serial-number.js';

/** What revocation will accept as a serial, checked here so a bad one is a config error, not a deploy failure. */
function isCertificateSerial(value: string): boolean {
  try {
    normalizeSerial(value);
    return true;
  } catch {
    return false;
  }
}

/**
 * The stack's configuration, typed and checked in one place. `readStackConfig` is pure (it takes a
 * lookup function), so tests check it without the Pulumi engine; `infra/index.ts` feeds it from
 * `pulumi.Config`. Every problem is reported at once, naming the key and what it accepts.
 */
export const PROJECT = 'secure-mqtt-stack';

export const KEY_ALGORITHMS = ['ecdsa-p256', 'rsa-2048', 'rsa-3072', 'rsa-4096'] as const;
export type KeyAlgorithm = (typeof KEY_ALGORITHMS)[number];

export interface StackConfig {
  pki: {
    keyAlgorithm: KeyAlgorithm;
    caValidityDays: number;
    leafValidityDays: number;
    earlyRenewalHours: number;
    /** The CRL is reissued at each period boundary and valid for two periods (revocation/revocation-window.ts). */
    crlPeriodDays: number;
    /** Fleet devices whose current certificate is revoked; they are not deployed. */
    revokedDevices: string[];
    /** Further revoked serials (hex), e.g. of certificates already replaced, which the program no longer holds. */
    revokedSerials: string[];
  };
  broker: {
    image: string;
    tlsMinimumVersion: TlsMinimumVersion;
    /** Host port the broker is published on; undefined keeps it on the private network. */
    publishPort: number | undefined;
    /** Host interface for published ports: 127.0.0.1 in dev. */
    publishHost: string;
    limits: BrokerLimits;
    /** Service identities (with a '.') the ACL lets read telemetry ciphertext, e.g. an auditor. */
    telemetryReaders: string[];
    /** Devices cut off at the broker by configuration (the ACL denies them everything), e.g. one flooding the service. */
    blockedDevices: string[];
  };
  keyService: {
    baseImage: string;
    apiPublishPort: number | undefined;
    replayWindow: number;
    sessionGraceSeconds: number;
  };
  fleet: {
    size: number;
    devicesPerContainer: number;
    intervalMs: number;
    batchSize: number;
    /** The first this many devices get RSA keys (RSA-OAEP key transport). */
    rsaDevices: number;
    baseImage: string;
  };
  docker: {
    /** Docker daemon address; undefined uses the local default (DOCKER_HOST or the socket). */
    host: string | undefined;
  };
}

/** The fleet's device ids: sensor-0001 … in fleet order; certificate CN and topic level. */
export function fleetDeviceIds(size: number): string[] {
  return Array.from({ length: size }, (_, i) => `sensor-${String(i + 1).padStart(4, '0')}`);
}

export class StackConfigError extends Error {
  override readonly name = 'StackConfigError';
  constructor(readonly problems: string[]) {
    super(`invalid stack configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

/** Looks up a top-level config object (e.g. `fleet`) or undefined. */
export type ConfigLookup = (section: string) => unknown;

const PINNED_IMAGE = /^[a-z0-9][a-z0-9._\/-]*:(?!latest$)[A-Za-z0-9._-]+$|^[a-z0-9][a-z0-9._\/-]*@sha256:[a-f0-9]{64}$/;

export function readStackConfig(lookup: ConfigLookup): StackConfig {
  const problems: string[] = [];
  const section = (name: string): Record<string, unknown> => {
    const value = lookup(name) ?? {};
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      problems.push(`${PROJECT}:${name} must be an object`);
      return {};
    }
    return value as Record<string, unknown>;
  };
  const integer = (s: string, o: Record<string, unknown>, key: string, fallback: number, min: number, max: number): number => {
    const raw = o[key];
    if (raw === undefined) return fallback;
    const value = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      problems.push(`${PROJECT}:${s}.${key} must be an integer in ${min}..${max}, got ${JSON.stringify(raw)}`);
      return fallback;
    }
    return value;
  };
  const optionalPort = (s: string, o: Record<string, unknown>, key: string, fallback: number | undefined) =>
    o[key] === null || o[key] === 'none' ? undefined : o[key] === undefined ? fallback : integer(s, o, key, 0, 1, 65_535);
  const oneOf = <T extends string>(s: string, o: Record<string, unknown>, key: string, allowed: readonly T[], fallback: T): T => {
    const raw = o[key] ?? fallback;
    if (!allowed.includes(raw as T)) {
      problems.push(`${PROJECT}:${s}.${key} must be one of ${allowed.join(', ')}, got ${JSON.stringify(raw)}`);
      return fallback;
    }
    return raw as T;
  };
  const image = (s: string, o: Record<string, unknown>, key: string, fallback: string): string => {
    const raw = o[key] ?? fallback;
    if (typeof raw !== 'string' || !PINNED_IMAGE.test(raw)) {
      problems.push(`${PROJECT}:${s}.${key} must be an image pinned to a tag other than latest or to a digest, got ${JSON.stringify(raw)}`);
      return fallback;
    }
    return raw;
  };
  const text = (s: string, o: Record<string, unknown>, key: string, fallback: string | undefined, pattern: RegExp, what: string) => {
    const raw = o[key] ?? fallback;
    if (raw === undefined) return undefined;
    if (typeof raw !== 'string' || !pattern.test(raw)) {
      problems.push(`${PROJECT}:${s}.${key} must be ${what}, got ${JSON.stringify(raw)}`);
      return fallback;
    }
    return raw;
  };

  const stringList = (s: string, o: Record<string, unknown>, key: string, accepts: (value: string) => boolean, what: string): string[] => {
    const raw = o[key] ?? [];
    if (!Array.isArray(raw) || !raw.every((v) => typeof v === 'string' && accepts(v))) {
      problems.push(`${PROJECT}:${s}.${key} must be a list of ${what}, got ${JSON.stringify(raw)}`);
      return [];
    }
    return raw as string[];
  };

  const pki = section('pki');
  const broker = section('broker');
  const keyService = section('keyService');
  const fleet = section('fleet');
  const docker = section('docker');
  const limits = (broker.limits ?? {}) as Record<string, unknown>;

  const config: StackConfig = {
    pki: {
      keyAlgorithm: oneOf('pki', pki, 'keyAlgorithm', KEY_ALGORITHMS, 'ecdsa-p256'),
      caValidityDays: integer('pki', pki, 'caValidityDays', 3650, 30, 36_500),
      leafValidityDays: integer('pki', pki, 'leafValidityDays', 30, 1, 397),
      earlyRenewalHours: integer('pki', pki, 'earlyRenewalHours', 168, 1, 8_760),
      crlPeriodDays: integer('pki', pki, 'crlPeriodDays', 7, 1, 90),
      revokedDevices: stringList('pki', pki, 'revokedDevices', isValidDeviceId, 'device ids such as sensor-0002'),
      revokedSerials: stringList('pki', pki, 'revokedSerials', isCertificateSerial, 'hex certificate serial numbers of at most 20 bytes'),
    },
    broker: {
      image: image('broker', broker, 'image', 'eclipse-mosquitto:2.0.20'),
      tlsMinimumVersion: oneOf('broker', broker, 'tlsMinimumVersion', ['tlsv1.2', 'tlsv1.3'] as const, 'tlsv1.2'),
      publishPort: optionalPort('broker', broker, 'publishPort', 8883),
      publishHost: text('broker', broker, 'publishHost', '127.0.0.1', /^(\d{1,3}\.){3}\d{1,3}$/, 'an IPv4 address') ?? '127.0.0.1',
      limits: {
        messageSizeLimit: integer('broker.limits', limits, 'messageSizeLimit', 16_384, 256, 268_435_455),
        maxConnections: integer('broker.limits', limits, 'maxConnections', 20_000, 1, 1_000_000),
        maxQueuedMessages: integer('broker.limits', limits, 'maxQueuedMessages', 200_000, 1, 100_000_000),
        maxInflightMessages: integer('broker.limits', limits, 'maxInflightMessages', 100, 1, 65_535),
      },
      telemetryReaders: stringList('broker', broker, 'telemetryReaders', isServiceIdentity, 'dotted service identities such as auditor.svc'),
      blockedDevices: stringList('broker', broker, 'blockedDevices', isValidDeviceId, 'device ids such as sensor-0002'),
    },
    keyService: {
      baseImage: image('keyService', keyService, 'baseImage', 'node:20.19-bookworm-slim'),
      apiPublishPort: optionalPort('keyService', keyService, 'apiPublishPort', 8080),
      replayWindow: integer('keyService', keyService, 'replayWindow', 1024, 32, 1 << 20),
      sessionGraceSeconds: integer('keyService', keyService, 'sessionGraceSeconds', 300, 0, 86_400),
    },
    fleet: {
      size: integer('fleet', fleet, 'size', 3, 1, 100_000),
      devicesPerContainer: integer('fleet', fleet, 'devicesPerContainer', 50, 1, 10_000),
      intervalMs: integer('fleet', fleet, 'intervalMs', 5_000, 10, 86_400_000),
      batchSize: integer('fleet', fleet, 'batchSize', 1, 1, 255),
      rsaDevices: integer('fleet', fleet, 'rsaDevices', 0, 0, 100_000),
      baseImage: image('fleet', fleet, 'baseImage', 'node:20.19-bookworm-slim'),
    },
    docker: {
      host: text('docker', docker, 'host', undefined, /^(unix|tcp|ssh|npipe):\/\/\S+$/, 'a docker host URL (unix://, tcp://, ssh://)'),
    },
  };
  if (config.fleet.rsaDevices > config.fleet.size) problems.push(`${PROJECT}:fleet.rsaDevices must not exceed fleet.size`);
  const fleetIds = new Set(fleetDeviceIds(config.fleet.size));
  const unknown = config.pki.revokedDevices.filter((id) => !fleetIds.has(id));
  if (unknown.length > 0) problems.push(`${PROJECT}:pki.revokedDevices names devices outside the fleet (size ${config.fleet.size}): ${unknown.join(', ')}`);
  if (problems.length > 0) throw new StackConfigError(problems);
  return config;
}
