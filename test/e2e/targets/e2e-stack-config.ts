/**
 * How the end-to-end targets configure the dev stack: a faster fleet and an auditor identity that may
 * read telemetry ciphertext. Everything else is the dev stack as committed.
 */
export const E2E_AUDITOR = 'auditor.svc';

export const E2E_CONFIG_OVERRIDES = {
  fleet: { size: 3, rsaDevices: 1, intervalMs: 500, devicesPerContainer: 2 },
  broker: { image: 'eclipse-mosquitto:2.0.20', tlsMinimumVersion: 'tlsv1.2', publishHost: '127.0.0.1', publishPort: 18883, telemetryReaders: [E2E_AUDITOR] },
  keyService: { apiPublishPort: 18080 },
};
