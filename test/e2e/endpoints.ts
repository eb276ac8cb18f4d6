/**
 * Everything the end-to-end suite knows about the stack under test. A target (local processes,
 * containers, a Pulumi stack) produces it; the suite never learns which target it is on.
 */
export interface E2eEndpoints {
  broker: { host: string; port: number };
  apiUrl: string;
  caCertPem: string;
  /** The stack CA's key, for minting test identities: probes, an auditor, expired and wrong-usage certificates. */
  caKeyPem: string;
  /** Devices the stack's own fleet runs. */
  fleetDeviceIds: string[];
  /** CN of the key service's certificates. */
  serviceName: string;
  /** An identity the broker ACL lets read telemetry (ciphertext); the suite issues its certificate. */
  auditorIdentity: string;
  replayWindow: number;
  messageSizeLimit: number;
}

declare module 'vitest' {
  export interface ProvidedContext {
    endpoints: E2eEndpoints;
  }
}
