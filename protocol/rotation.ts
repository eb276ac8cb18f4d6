/** When a device replaces its session key: after N envelopes or T milliseconds, whichever comes first. */
export interface RotationPolicy {
  maxMessages: number;
  maxAgeMs: number;
}

export const DEFAULT_ROTATION: RotationPolicy = { maxMessages: 100_000, maxAgeMs: 60 * 60_000 };

export function isRotationDue(policy: RotationPolicy, messagesSent: number, establishedAt: number, now: number): boolean {
  return messagesSent >= policy.maxMessages || now - establishedAt >= policy.maxAgeMs;
}
