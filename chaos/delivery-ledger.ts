import type { Reading } from '../protocol/readings.js';

/** A reading as the service stores it; (deviceId, keyId, seq, index) is its identity in storage. */
export interface StoredRow extends Reading {
  deviceId: string;
  keyId: number;
  seq: number;
  index: number;
}

export interface DeliveryTally {
  /** Readings the devices took. */
  sent: number;
  /** Distinct readings in storage that a device took. */
  stored: number;
  /** Readings taken but not in storage. */
  lost: number;
  /** Readings in storage more than once (must be 0: storage is exactly-once). */
  storedTwice: number;
  /** Rows in storage that no device took (must be 0). */
  unexpected: number;
}

const readingKey = (r: Reading) => `${r.takenAt}|${r.temperatureC}|${r.humidityPct}`;

/**
 * Every reading each device took, recorded where it is taken (the device's reading source), to be
 * matched against what the service stored: per device, by value, so loss and double storage both show.
 */
export class DeliveryLedger {
  private readonly taken = new Map<string, Reading[]>();

  /** Wraps a device's reading source so each reading is recorded as it is taken. */
  recorder(deviceId: string, source: (now: number) => Reading): (now: number) => Reading {
    const list = this.taken.get(deviceId) ?? [];
    this.taken.set(deviceId, list);
    return (now) => {
      const reading = source(now);
      list.push(reading);
      return reading;
    };
  }

  get devices(): string[] {
    return [...this.taken.keys()];
  }

  tally(storedByDevice: ReadonlyMap<string, readonly StoredRow[]>): DeliveryTally {
    const tally: DeliveryTally = { sent: 0, stored: 0, lost: 0, storedTwice: 0, unexpected: 0 };
    for (const [deviceId, taken] of this.taken) {
      const storedRows = storedByDevice.get(deviceId) ?? [];
      const storedCounts = new Map<string, number>();
      for (const row of storedRows) storedCounts.set(readingKey(row), (storedCounts.get(readingKey(row)) ?? 0) + 1);
      const takenKeys = new Set(taken.map(readingKey));
      tally.sent += taken.length;
      for (const key of takenKeys) {
        const count = storedCounts.get(key) ?? 0;
        if (count === 0) tally.lost++;
        else tally.stored++;
        if (count > 1) tally.storedTwice += count - 1;
      }
      for (const key of storedCounts.keys()) if (!takenKeys.has(key)) tally.unexpected++;
    }
    return tally;
  }
}
