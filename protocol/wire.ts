/** Constants shared by every message of protocol version 1. */
export const PROTOCOL_VERSION = 1;

export const MESSAGE_KIND = {
  kexRequest: 0x01,
  telemetry: 0x02,
} as const;

/** Key-exchange schemes. ECDH is the default; RSA-OAEP transport serves RSA-keyed devices. */
export const KEX_SCHEME = {
  ecdhP256: 1,
  rsaOaepSha256: 2,
} as const;
export type KexScheme = keyof typeof KEX_SCHEME;

export function kexSchemeFromByte(byte: number): KexScheme | undefined {
  if (byte === KEX_SCHEME.ecdhP256) return 'ecdhP256';
  if (byte === KEX_SCHEME.rsaOaepSha256) return 'rsaOaepSha256';
  return undefined;
}
