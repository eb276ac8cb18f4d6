/**
 * Every way the protocol refuses input. A refusal is always a ProtocolError carrying one of these
 * codes; callers count refusals by code and never see any other exception from the decoders.
 */
export const REFUSAL_CODES = [
  'malformed', // bytes do not parse as the declared structure
  'unsupported-version', // a version or scheme this build does not speak
  'bad-topic', // the topic is not part of the contract or names an invalid device id
  'unknown-session', // no live session key with that id for the device
  'unknown-service-key', // a key exchange addressed to a service key this service does not hold
  'bad-tag', // AES-GCM authentication failed: tampered, truncated or wrong key
  'replay', // a sequence number behind the replay window, or a key-exchange nonce seen before
  'stale', // a key exchange whose timestamp is outside the freshness window
  'bad-signature', // the key-exchange signature does not verify with the certificate's key
  'untrusted-certificate', // not issued by the stack CA, outside validity, or lacking the required usage
  'identity-mismatch', // certificate CN differs from the device id in the topic or message
  'invalid-reading', // decrypted reading outside the sensor's physical range
  'revoked-certificate', // the certificate's serial is on the stack CA's current revocation list
] as const;

export type RefusalCode = (typeof REFUSAL_CODES)[number];

export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  constructor(
    readonly code: RefusalCode,
    message: string,
  ) {
    super(message);
  }
}

export function isProtocolError(value: unknown): value is ProtocolError {
  return value instanceof ProtocolError;
}

/** Throws a ProtocolError: keeps guard clauses in the decoders to one line. */
export function refuse(code: RefusalCode, message: string): never {
  throw new ProtocolError(code, message);
}
