import { refuse } from './errors.js';

/**
 * A strict DER reader for the few structures the protocol reads itself (X.509 certificates). Only
 * definite, minimal lengths and single-byte tags; anything else, and any read past a parent's end, is
 * a `malformed` refusal, never a RangeError.
 */
export interface Tlv {
  tag: number;
  /** First byte of the tag: `der.subarray(headerStart, end)` is the whole encoding. */
  headerStart: number;
  /** First byte of the contents. */
  start: number;
  end: number;
}

export const TAG = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  null: 0x05,
  oid: 0x06,
  utf8String: 0x0c,
  printableString: 0x13,
  teletexString: 0x14,
  ia5String: 0x16,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
  set: 0x31,
} as const;

function readTlv(der: Buffer, offset: number, limit: number): Tlv {
  if (offset + 2 > limit) refuse('malformed', 'DER: truncated header');
  const tag = der[offset]!;
  if ((tag & 0x1f) === 0x1f) refuse('malformed', 'DER: multi-byte tags are not used here');
  let length = der[offset + 1]!;
  let start = offset + 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    if (bytes === 0) refuse('malformed', 'DER: indefinite length');
    if (bytes > 4 || start + bytes > limit) refuse('malformed', 'DER: bad length');
    if (der[start] === 0) refuse('malformed', 'DER: length with a leading zero');
    length = 0;
    for (let i = 0; i < bytes; i++) length = length * 256 + der[start + i]!;
    if (length < 0x80) refuse('malformed', 'DER: long form for a short length');
    start += bytes;
  }
  const end = start + length;
  if (end > limit) refuse('malformed', 'DER: contents overrun their parent');
  return { tag, headerStart: offset, start, end };
}

/** The single TLV that fills `der` exactly. */
export function readRoot(der: Buffer): Tlv {
  const root = readTlv(der, 0, der.length);
  if (root.end !== der.length) refuse('malformed', 'DER: trailing bytes');
  return root;
}

/** Every child of a constructed value, which must fill it exactly. */
export function childrenOf(der: Buffer, parent: Tlv): Tlv[] {
  const children: Tlv[] = [];
  for (let offset = parent.start; offset < parent.end; ) {
    const child = readTlv(der, offset, parent.end);
    children.push(child);
    offset = child.end;
  }
  return children;
}

export function expectTag(tlv: Tlv | undefined, tag: number, what: string): Tlv {
  if (!tlv || tlv.tag !== tag) refuse('malformed', `DER: expected ${what}`);
  return tlv;
}

/** Children of a constructed value, between `min` and `max` of them. */
export function expectChildren(der: Buffer, parent: Tlv, min: number, max: number, what: string): Tlv[] {
  const children = childrenOf(der, parent);
  if (children.length < min || children.length > max) refuse('malformed', `DER: ${what} has ${children.length} fields`);
  return children;
}

export function contents(der: Buffer, tlv: Tlv): Buffer {
  return der.subarray(tlv.start, tlv.end);
}

export function whole(der: Buffer, tlv: Tlv): Buffer {
  return der.subarray(tlv.headerStart, tlv.end);
}

/** Dotted form of an OBJECT IDENTIFIER's contents; sub-identifiers must be minimal and fit 2^53. */
export function oidToString(bytes: Buffer): string {
  if (bytes.length === 0) refuse('malformed', 'DER: empty OID');
  const parts: number[] = [];
  let value = 0;
  let fresh = true;
  for (const byte of bytes) {
    if (fresh && byte === 0x80) refuse('malformed', 'DER: OID sub-identifier with a leading zero');
    value = value * 128 + (byte & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER) refuse('malformed', 'DER: OID sub-identifier too large');
    fresh = (byte & 0x80) === 0;
    if (fresh) {
      parts.push(value);
      value = 0;
    }
  }
  if (!fresh) refuse('malformed', 'DER: OID ends inside a sub-identifier');
  const first = parts[0]!;
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80];
  return [...head, ...parts.slice(1)].join('.');
}

export function readOid(der: Buffer, tlv: Tlv | undefined, what: string): string {
  return oidToString(contents(der, expectTag(tlv, TAG.oid, what)));
}

/** A BIT STRING's bytes; `wholeBytes` requires no unused bits (keys and signatures). */
export function bitStringBytes(der: Buffer, tlv: Tlv | undefined, what: string, wholeBytes: boolean): Buffer {
  const bits = contents(der, expectTag(tlv, TAG.bitString, what));
  if (bits.length === 0 || bits[0]! > 7 || (bits.length === 1 && bits[0] !== 0)) refuse('malformed', `DER: bad ${what}`);
  if (wholeBytes && bits[0] !== 0) refuse('malformed', `DER: ${what} has unused bits`);
  return bits.subarray(1);
}

/** An INTEGER's contents, checked minimal; callers decide what a sign bit means. */
export function integerBytes(der: Buffer, tlv: Tlv | undefined, what: string): Buffer {
  const bytes = contents(der, expectTag(tlv, TAG.integer, what));
  if (bytes.length === 0) refuse('malformed', `DER: empty ${what}`);
  if (bytes.length > 1 && ((bytes[0] === 0 && bytes[1]! < 0x80) || (bytes[0] === 0xff && bytes[1]! >= 0x80))) {
    refuse('malformed', `DER: ${what} is not minimally encoded`);
  }
  return bytes;
}
