import { describe, expect, it } from 'vitest';
import { ExponentialBackoff } from '../../device-sim/backoff.js';
import { SensorModel } from '../../device-sim/sensor-model.js';
import { READING_LIMITS } from '../../protocol/readings.js';

describe('reconnect back-off', () => {
  it('doubles from 1 s to a 60 s ceiling, with jitter in the upper half of each step', () => {
    const low = new ExponentialBackoff(1_000, 60_000, () => 0);
    const high = new ExponentialBackoff(1_000, 60_000, () => 1);
    const lows = Array.from({ length: 10 }, () => low.next());
    const highs = Array.from({ length: 10 }, () => high.next());
    expect(highs).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000, 60_000]);
    expect(lows).toEqual([1_000, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000, 30_000]);
    high.reset();
    expect(high.next()).toBe(1_000);
  });

  it('spreads a fleet: devices that lost the broker together wait different times', () => {
    const third = new Set(
      Array.from({ length: 50 }, () => {
        const backoff = new ExponentialBackoff();
        backoff.next();
        backoff.next();
        return backoff.next();
      }),
    );
    expect(third.size).toBeGreaterThan(10);
    for (const wait of third) expect(wait).toBeGreaterThanOrEqual(2_000);
  });
});

describe('sensor model', () => {
  it('stays in the sensor range with two decimals, drifts smoothly, and is a pure function of device and time', () => {
    const start = Date.UTC(2026, 0, 1);
    const times = Array.from({ length: 5_000 }, (_, i) => start + i * 60_000);
    const readings = times.map((t) => new SensorModel('sensor-0001').at(t));
    expect(times.map((t) => new SensorModel('sensor-0001').at(t))).toEqual(readings);
    for (const r of readings) {
      expect(r.temperatureC).toBeGreaterThanOrEqual(READING_LIMITS.temperatureC.min);
      expect(r.temperatureC).toBeLessThanOrEqual(READING_LIMITS.temperatureC.max);
      expect(r.humidityPct).toBeGreaterThanOrEqual(0);
      expect(r.humidityPct).toBeLessThanOrEqual(100);
      expect(Math.round(r.temperatureC * 100) / 100).toBe(r.temperatureC);
    }
    const temperatures = readings.map((r) => r.temperatureC);
    expect(Math.max(...temperatures) - Math.min(...temperatures)).toBeGreaterThan(3); // daily cycle and drift
    // Minute to minute the reading moves by noise, not by jumps.
    const steps = temperatures.slice(1).map((t, i) => Math.abs(t - temperatures[i]!));
    expect(Math.max(...steps)).toBeLessThan(1.5);
    expect(new SensorModel('sensor-0002').at(start)).not.toEqual(new SensorModel('sensor-0001').at(start));
  });
});
