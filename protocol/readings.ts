import { refuse } from './errors.js';

/** One sensor sample. Values carry two decimals: the wire keeps them as exact hundredths. */
export interface Reading {
  /** When the sample was taken, milliseconds since the Unix epoch. */
  takenAt: number;
  temperatureC: number;
  humidityPct: number;
}

/** Physical range of the simulated sensor (an SHT3x-class part); anything outside is refused. */
export const READING_LIMITS = {
  temperatureC: { min: -40, max: 125 },
  humidityPct: { min: 0, max: 100 },
} as const;

export const MAX_READINGS_PER_BATCH = 255;
const READING_BYTES = 6 + 2 + 2; // u48 takenAt, i16 centi-degrees, u16 centi-percent
const MAX_TIMESTAMP = 2 ** 48 - 1;

/** Rounds to the two decimals the wire carries, so a reading survives encode/decode unchanged. */
export function roundForWire(value: number): number {
  return Math.round(value * 100) / 100;
}

function checkReading(reading: Reading): void {
  checkValues(reading.takenAt, reading.temperatureC, reading.humidityPct);
}

function checkValues(takenAt: number, temperatureC: number, humidityPct: number): void {
  if (!Number.isInteger(takenAt) || takenAt < 0 || takenAt > MAX_TIMESTAMP) {
    refuse('invalid-reading', 'takenAt is not a millisecond timestamp');
  }
  const t = READING_LIMITS.temperatureC;
  if (!(temperatureC >= t.min && temperatureC <= t.max)) refuse('invalid-reading', 'temperature out of range');
  const h = READING_LIMITS.humidityPct;
  if (!(humidityPct >= h.min && humidityPct <= h.max)) refuse('invalid-reading', 'humidity out of range');
}

/** Encodes 1..255 readings as `u8 count` then fixed 10-byte records. */
export function encodeReadings(readings: readonly Reading[]): Buffer {
  if (readings.length < 1 || readings.length > MAX_READINGS_PER_BATCH) {
    refuse('invalid-reading', `a batch holds 1..${MAX_READINGS_PER_BATCH} readings`);
  }
  const out = Buffer.allocUnsafe(1 + readings.length * READING_BYTES);
  out.writeUInt8(readings.length, 0);
  let offset = 1;
  for (const reading of readings) {
    checkReading(reading);
    out.writeUIntBE(reading.takenAt, offset, 6);
    out.writeInt16BE(Math.round(reading.temperatureC * 100), offset + 6);
    out.writeUInt16BE(Math.round(reading.humidityPct * 100), offset + 8);
    offset += READING_BYTES;
  }
  return out;
}

export function decodeReadings(bytes: Buffer): Reading[] {
  return decodeReadingsAs(bytes, (takenAt, temperatureC, humidityPct) => ({ takenAt, temperatureC, humidityPct }));
}

/**
 * decodeReadings with the caller's record type, so a consumer that needs its own record per reading
 * (the service's stored rows) builds it directly instead of copying an intermediate Reading. The same
 * length and range checks run before `make` sees a reading.
 */
export function decodeReadingsAs<T>(bytes: Buffer, make: (takenAt: number, temperatureC: number, humidityPct: number, index: number) => T): T[] {
  const count = bytes.length > 0 ? bytes[0]! : 0;
  if (count === 0 || bytes.length !== 1 + count * READING_BYTES) refuse('malformed', 'reading batch has the wrong length');
  const records: T[] = new Array(count);
  for (let i = 0, offset = 1; i < count; i++, offset += READING_BYTES) {
    const takenAt = bytes.readUIntBE(offset, 6);
    const temperatureC = bytes.readInt16BE(offset + 6) / 100;
    const humidityPct = bytes.readUInt16BE(offset + 8) / 100;
    checkValues(takenAt, temperatureC, humidityPct);
    records[i] = make(takenAt, temperatureC, humidityPct, i);
  }
  return records;
}
