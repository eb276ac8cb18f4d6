import { EnvReader } from '../../env-config/env-reader.js';

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
  logLevel: (typeof LOG_LEVELS)[number];
  /** Mosquitto's log file, when the service can read it: TLS refusals are then counted in /metrics. */
  brokerLogFile: string | undefined;
  /** The stack CA's CRL (PEM): revoked device certificates are refused and their sessions ended. */
  crlFile: string | undefined;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Reads and checks every setting; a ConfigError names each bad or missing one. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): KeyServiceConfig {
  const read = new EnvReader(env);
  const config: KeyServiceConfig = {
    mqttUrl: read.mqttsUrl('KEY_SERVICE_MQTT_URL'),
    clientId: read.text('KEY_SERVICE_CLIENT_ID', 'key-service'),
    serviceName: read.text('KEY_SERVICE_NAME', 'key-service.svc'),
    caCertFile: read.file('KEY_SERVICE_CA_CERT_FILE'),
    clientCertFile: read.file('KEY_SERVICE_CLIENT_CERT_FILE'),
    clientKeyFile: read.file('KEY_SERVICE_CLIENT_KEY_FILE'),
    kexEcCertFile: read.file('KEY_SERVICE_KEX_EC_CERT_FILE'),
    kexEcKeyFile: read.file('KEY_SERVICE_KEX_EC_KEY_FILE'),
    kexRsaCertFile: read.file('KEY_SERVICE_KEX_RSA_CERT_FILE', 'optional'),
    kexRsaKeyFile: read.file('KEY_SERVICE_KEX_RSA_KEY_FILE', 'optional'),
    dbPath: read.text('KEY_SERVICE_DB_PATH', 'key-service.db'),
    httpHost: read.text('KEY_SERVICE_HTTP_HOST', '127.0.0.1'),
    httpPort: read.integer('KEY_SERVICE_HTTP_PORT', 8080, 0, 65_535),
    replayWindow: read.integer('KEY_SERVICE_REPLAY_WINDOW', 1024, 32, 1 << 20),
    sessionGraceSeconds: read.integer('KEY_SERVICE_SESSION_GRACE_SECONDS', 300, 0, 86_400),
    kexMaxAgeSeconds: read.integer('KEY_SERVICE_KEX_MAX_AGE_SECONDS', 300, 5, 86_400),
    mqttSessionExpirySeconds: read.integer('KEY_SERVICE_MQTT_SESSION_EXPIRY_SECONDS', 7 * 86_400, 60, 0xffffffff),
    logLevel: read.oneOf('KEY_SERVICE_LOG_LEVEL', LOG_LEVELS, 'info'),
    brokerLogFile: read.file('KEY_SERVICE_BROKER_LOG_FILE', 'optional'),
    crlFile: read.file('KEY_SERVICE_CRL_FILE', 'optional'),
  };
  if (Boolean(config.kexRsaCertFile) !== Boolean(config.kexRsaKeyFile)) {
    read.problems.push('KEY_SERVICE_KEX_RSA_CERT_FILE and KEY_SERVICE_KEX_RSA_KEY_FILE must be set together');
  }
  read.done('key-service');
  return config;
}
