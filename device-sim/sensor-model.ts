import { roundForWire, type Reading } from '../protocol/readings.js';

/**
 * An indoor climate sensor: temperature follows a daily cycle plus a slow random walk (drift) and
 * measurement noise; relative humidity moves against temperature. Deterministic for a given seed.
 */
export class SensorModel {
  private drift = 0;
  private state: number;

  constructor(
    seed: number,
    private readonly baseTemperatureC = 21,
    private readonly baseHumidityPct = 45,
  ) {
    this.state = seed >>> 0 || 1;
  }

  /** xorshift32: a repeatable stream, so a device's readings can be regenerated in tests. */
  private random(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state / 0x1_0000_0000;
  }

  private gaussian(): number {
    const u = Math.max(this.random(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.random());
  }

  next(now: number): Reading {
    const hourOfDay = (now / 3_600_000) % 24;
    const daily = 2.5 * Math.sin(((hourOfDay - 9) / 24) * 2 * Math.PI);
    // Mean-reverting drift keeps a long simulation within a plausible band.
    this.drift = 0.98 * this.drift + 0.05 * this.gaussian();
    const temperatureC = this.baseTemperatureC + daily + this.drift + 0.1 * this.gaussian();
    const humidityPct = this.baseHumidityPct - 1.8 * (daily + this.drift) + 0.5 * this.gaussian();
    return {
      takenAt: Math.floor(now),
      temperatureC: roundForWire(clamp(temperatureC, -40, 125)),
      humidityPct: roundForWire(clamp(humidityPct, 0, 100)),
    };
  }
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
