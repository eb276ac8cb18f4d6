/**
 * Reads the X.509 keyUsage extension straight from DER. node:crypto does not expose it, and a full
 * ASN.1 parse costs about four times the chain check on the key-exchange path. Any malformation throws;
 * the caller turns that into a `malformed` refusal.
 */
export const KEY_USAGE = {
  digitalSignature: 1 << 0,
  nonRepudiation: 1 << 1,
  keyEncipherment: 1 << 2,
  dataEncipherment: 1 << 3,
  keyAgreement: 1 << 4,
  keyCertSign: 1 << 5,
  cRLSign: 1 << 6,
  encipherOnly: 1 << 7,
  decipherOnly: 1 << 8,
} as const;

const KEY_USAGE_OID = Buffer.from([0x55, 0x1d, 0x0f]); // 2.5.29.15

interface Tlv {
  tag: number;
  start: number;
  end: number;
}

function readTlv(der: Buffer, offset: number, limit: number): Tlv {
  if (offset + 2 > limit) throw new RangeError('DER: truncated header');
  const tag = der[offset]!;
  let length = der[offset + 1]!;
  let start = offset + 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    if (bytes === 0 || bytes > 4 || start + bytes > limit) throw new RangeError('DER: bad length');
    length = 0;
    for (let i = 0; i < bytes; i++) length = length * 256 + der[start + i]!;
    start += bytes;
  }
  const end = start + length;
  if (end > limit) throw new RangeError('DER: content overruns its parent');
  return { tag, start, end };
}

function* children(der: Buffer, parent: Tlv): Generator<Tlv> {
  for (let offset = parent.start; offset < parent.end; ) {
    const child = readTlv(der, offset, parent.end);
    yield child;
    offset = child.end;
  }
}

/** keyUsage bits as KEY_USAGE flags, or undefined when the certificate has no keyUsage extension. */
export function keyUsageFlags(der: Buffer): number | undefined {
  const certificate = readTlv(der, 0, der.length);
  const tbs = children(der, certificate).next().value;
  if (!tbs || tbs.tag !== 0x30) throw new RangeError('DER: no tbsCertificate');
  for (const field of children(der, tbs)) {
    if (field.tag !== 0xa3) continue; // [3] extensions
    const list = readTlv(der, field.start, field.end);
    for (const extension of children(der, list)) {
      const parts = [...children(der, extension)];
      const oid = parts[0];
      if (!oid || oid.tag !== 0x06 || !der.subarray(oid.start, oid.end).equals(KEY_USAGE_OID)) continue;
      const value = parts[parts.length - 1];
      if (!value || value.tag !== 0x04) throw new RangeError('DER: keyUsage without a value');
      const bits = readTlv(der, value.start, value.end);
      if (bits.tag !== 0x03 || bits.end - bits.start < 1) throw new RangeError('DER: keyUsage is not a BIT STRING');
      let flags = 0;
      for (let i = 0; i < 9; i++) {
        const byte = bits.start + 1 + (i >> 3);
        if (byte < bits.end && der[byte]! & (0x80 >> (i & 7))) flags |= 1 << i;
      }
      return flags;
    }
  }
  return undefined;
}
