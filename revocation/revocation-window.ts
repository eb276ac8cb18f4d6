const DAY_MS = 86_400_000;

export interface RevocationWindow {
  thisUpdate: Date;
  nextUpdate: Date;
}

/**
 * When a CRL issued now says it was issued and when the next one is due. Both are aligned to whole
 * periods so that re-running the program within a period produces the same CRL (no diff, no
 * replaced broker); the CRL stays valid for two periods, so a stack not updated for one period
 * keeps working. Mosquitto refuses every client once the CRL has expired.
 */
export function revocationWindow(now: Date, periodDays: number): RevocationWindow {
  if (!Number.isInteger(periodDays) || periodDays < 1 || periodDays > 365) {
    throw new RangeError(`CRL period must be 1..365 whole days, got ${periodDays}`);
  }
  const period = periodDays * DAY_MS;
  const start = Math.floor(now.getTime() / period) * period;
  return { thisUpdate: new Date(start), nextUpdate: new Date(start + 2 * period) };
}
