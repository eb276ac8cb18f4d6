import { createHash } from 'node:crypto';
import { roundForWire, type Reading } from '../protocol/readings.js';

/**
 * An indoor climate sensor: temperature follows a daily cycle, a slow drift and measurement noise;
 * relative humidity moves against temperature. A reading is a pure function of (device id, time):
 * the drift is smooth value noise over 10-minute knots and the noise is hashed from the timestamp, so
 * an end-to-end test can recompute what any device sent at any moment without a hook in the device.
 */
const DRIFT_KNOT_MS = 10 * 60_000;

export class SensorModel {
  private readonly baseTemperatureC: number;
  private readonly baseHumidityPct: number;

  constructor(private readonly deviceId: string) {
    // Each device sits in its own room: 19..23 °C, 35..55 %RH.
    this.baseTemperatureC = 19 + 4 * this.unit('base-t', 0);
    this.baseHumidityPct = 35 + 20 * this.unit('base-h', 0);
  }

  /** A uniform number in [0, 1) determined by device, purpose and a counter. */
  private unit(purpose: string, n: number): number {
    const digest = createHash('sha256').update(`${this.deviceId}/${purpose}/${n}`).digest();
    return digest.readUInt32BE(0) / 0x1_0000_0000;
  }

  /** Standard normal from two hashed uniforms (Box-Muller). */
  private gaussian(purpose: string, n: number): number {
    const u = Math.max(this.unit(`${purpose}-a`, n), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.unit(`${purpose}-b`, n));
  }

  /** Smoothly interpolated noise between knots: a drift that wanders but never jumps. */
  private drift(takenAt: number): number {
    const knot = Math.floor(takenAt / DRIFT_KNOT_MS);
    const t = (takenAt - knot * DRIFT_KNOT_MS) / DRIFT_KNOT_MS;
    const smooth = t * t * (3 - 2 * t);
    return 0.8 * ((1 - smooth) * this.gaussian('drift', knot) + smooth * this.gaussian('drift', knot + 1));
  }

  at(takenAt: number): Reading {
    const time = Math.floor(takenAt);
    const hourOfDay = (time / 3_600_000) % 24;
    const daily = 2.5 * Math.sin(((hourOfDay - 9) / 24) * 2 * Math.PI);
    const drift = this.drift(time);
    const temperatureC = this.baseTemperatureC + daily + drift + 0.1 * this.gaussian('noise-t', time);
    const humidityPct = this.baseHumidityPct - 1.8 * (daily + drift) + 0.5 * this.gaussian('noise-h', time);
    return {
      takenAt: time,
      temperatureC: roundForWire(clamp(temperatureC, -40, 125)),
      humidityPct: roundForWire(clamp(humidityPct, 0, 100)),
    };
  }
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
