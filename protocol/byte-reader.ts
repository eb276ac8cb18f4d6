import { refuse } from './errors.js';

/** Bounds-checked reads over untrusted bytes: running past the end is `malformed`, never a RangeError. */
export class ByteReader {
  private offset = 0;
  constructor(private readonly bytes: Buffer) {}

  get position(): number {
    return this.offset;
  }

  private take(length: number): number {
    if (this.offset + length > this.bytes.length) refuse('malformed', 'message ends early');
    const start = this.offset;
    this.offset += length;
    return start;
  }

  u8(): number {
    return this.bytes.readUInt8(this.take(1));
  }
  u16(): number {
    return this.bytes.readUInt16BE(this.take(2));
  }
  u32(): number {
    return this.bytes.readUInt32BE(this.take(4));
  }
  u48(): number {
    return this.bytes.readUIntBE(this.take(6), 6);
  }
  fixed(length: number): Buffer {
    const start = this.take(length);
    return this.bytes.subarray(start, start + length);
  }
  /** A field prefixed by its u8 or u16 length. */
  sized(prefix: 'u8' | 'u16'): Buffer {
    return this.fixed(prefix === 'u8' ? this.u8() : this.u16());
  }
  expectEnd(): void {
    if (this.offset !== this.bytes.length) refuse('malformed', 'trailing bytes after message');
  }
}

/** Length-prefixed field for the writers: refuses to write what the reader could not read back. */
export function sizedField(value: Buffer, prefix: 'u8' | 'u16'): Buffer {
  const max = prefix === 'u8' ? 0xff : 0xffff;
  if (value.length > max) throw new RangeError(`field of ${value.length} bytes exceeds its ${prefix} length prefix`);
  const head = Buffer.allocUnsafe(prefix === 'u8' ? 1 : 2);
  if (prefix === 'u8') head.writeUInt8(value.length, 0);
  else head.writeUInt16BE(value.length, 0);
  return Buffer.concat([head, value]);
}
