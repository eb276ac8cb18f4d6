import { existsSync } from 'node:fs';

/** Everything the service reads from its environment. Private keys arrive as file paths, never values. */
export interface KeyServiceConfig {
  mqttUrl: string;
  clientId: string;
  serviceName: string;
  caCertFile: string;
  clientCertFile: string;
  clientKeyFile: string;
  kexEcCertFile: string;
  kexEcKeyFile: string;
  kexRsaCertFile: string | undefined;
  kexRsaKeyFile: string | undefined;
  dbPath: string;
  httpHost: string;
  httpPort: number;
  replayWindow: number;
  sessionGraceSeconds: number;
  kexMaxAgeSeconds: number;
  mqttSessionExpirySeconds: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`invalid key-service configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Reads and checks every setting, then reports all problems at once. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): KeyServiceConfig {
  const problems: string[] = [];
  const text = (name: string, fallback?: string): string => {
    const value = env[name]?.trim();
    if (value) return value;
    if (fallback !== undefined) return fallback;
    problems.push(`${name} is required`);
    return '';
  };
  const file = (name: string, required = true): string | undefined => {
    const value = env[name]?.trim();
    if (!value) {
      if (required) problems.push(`${name} is required (a file path)`);
      return undefined;
    }
    if (!existsSync(value)) problems.push(`${name}: no file at ${value}`);
    return value;
  };
  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name]?.trim();
    if (!raw) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`${name} must be an integer in ${min}..${max}, got "${raw}"`);
      return fallback;
    }
    return value;
  };

  const mqttUrl = text('KEY_SERVICE_MQTT_URL');
  if (mqttUrl && !/^mqtts:\/\/[^/\s]+:\d+\/?$/.test(mqttUrl)) {
    problems.push(`KEY_SERVICE_MQTT_URL must be mqtts://host:port (TLS only), got "${mqttUrl}"`);
  }
  const logLevel = text('KEY_SERVICE_LOG_LEVEL', 'info');
  if (!LOG_LEVELS.includes(logLevel as KeyServiceConfig['logLevel'])) {
    problems.push(`KEY_SERVICE_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  }
  const kexRsaCertFile = file('KEY_SERVICE_KEX_RSA_CERT_FILE', false);
  const kexRsaKeyFile = file('KEY_SERVICE_KEX_RSA_KEY_FILE', false);
  if (Boolean(kexRsaCertFile) !== Boolean(kexRsaKeyFile)) {
    problems.push('KEY_SERVICE_KEX_RSA_CERT_FILE and KEY_SERVICE_KEX_RSA_KEY_FILE must be set together');
  }
  const config: KeyServiceConfig = {
    mqttUrl,
    clientId: text('KEY_SERVICE_CLIENT_ID', 'key-service'),
    serviceName: text('KEY_SERVICE_NAME', 'key-service.svc'),
    caCertFile: file('KEY_SERVICE_CA_CERT_FILE') ?? '',
    clientCertFile: file('KEY_SERVICE_CLIENT_CERT_FILE') ?? '',
    clientKeyFile: file('KEY_SERVICE_CLIENT_KEY_FILE') ?? '',
    kexEcCertFile: file('KEY_SERVICE_KEX_EC_CERT_FILE') ?? '',
    kexEcKeyFile: file('KEY_SERVICE_KEX_EC_KEY_FILE') ?? '',
    kexRsaCertFile,
    kexRsaKeyFile,
    dbPath: text('KEY_SERVICE_DB_PATH', 'key-service.db'),
    httpHost: text('KEY_SERVICE_HTTP_HOST', '127.0.0.1'),
    httpPort: integer('KEY_SERVICE_HTTP_PORT', 8080, 0, 65_535),
    replayWindow: integer('KEY_SERVICE_REPLAY_WINDOW', 1024, 32, 1 << 20),
    sessionGraceSeconds: integer('KEY_SERVICE_SESSION_GRACE_SECONDS', 300, 0, 86_400),
    kexMaxAgeSeconds: integer('KEY_SERVICE_KEX_MAX_AGE_SECONDS', 300, 5, 86_400),
    mqttSessionExpirySeconds: integer('KEY_SERVICE_MQTT_SESSION_EXPIRY_SECONDS', 7 * 86_400, 60, 0xffffffff),
    logLevel: logLevel as KeyServiceConfig['logLevel'],
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
