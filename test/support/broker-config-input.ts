import type { MosquittoConfigInput } from '../../broker-config/mosquitto-config.js';

/** Renderer inputs for a typical broker, with the container paths the stack uses; tests bend them. */
export function brokerConfigInput(overrides: Partial<MosquittoConfigInput> = {}): MosquittoConfigInput {
  return {
    port: 8883,
    tlsMinimumVersion: 'tlsv1.2',
    caFile: '/mosquitto/certs/ca.crt',
    certFile: '/mosquitto/certs/broker.crt',
    keyFile: '/mosquitto/certs/broker.key',
    aclFile: '/mosquitto/config/acl',
    ...overrides,
  };
}
