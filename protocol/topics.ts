import { refuse } from './errors.js';

/** Device ids are certificate CNs and topic levels: lower-case letters, digits and '-', 1..64 chars. */
export const DEVICE_ID_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;

/** The retained topic on which the key service publishes its key-agreement certificates. */
export const SERVICE_CERTIFICATES_TOPIC = 'services/key-service/certificates';

export type DeviceTopicKind = 'telemetry' | 'kex' | 'control';

export function isValidDeviceId(id: string): boolean {
  return DEVICE_ID_PATTERN.test(id);
}

export function assertValidDeviceId(id: string): void {
  if (!isValidDeviceId(id)) refuse('bad-topic', `device id must match ${DEVICE_ID_PATTERN}`);
}

export function deviceTopic(deviceId: string, kind: DeviceTopicKind): string {
  assertValidDeviceId(deviceId);
  return `devices/${deviceId}/${kind}`;
}

/** Subscriptions the service uses to receive from every device. */
export const SERVICE_SUBSCRIPTIONS = ['devices/+/telemetry', 'devices/+/kex'] as const;

/** Splits `devices/{id}/{kind}`; anything else is refused as bad-topic. */
export function parseDeviceTopic(topic: string): { deviceId: string; kind: DeviceTopicKind } {
  const parts = topic.split('/');
  if (parts.length !== 3 || parts[0] !== 'devices') refuse('bad-topic', 'topic is not devices/{id}/{kind}');
  const [, deviceId = '', kind] = parts;
  if (!isValidDeviceId(deviceId)) refuse('bad-topic', 'topic names an invalid device id');
  if (kind !== 'telemetry' && kind !== 'kex' && kind !== 'control') refuse('bad-topic', 'unknown topic kind');
  return { deviceId, kind };
}
