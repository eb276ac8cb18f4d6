import { describe, expect, it } from 'vitest';
import { QUICK_TIMING, runScenario, type ScenarioRow } from '../../chaos/scenario-runner.js';
import { SCENARIOS } from '../../chaos/scenarios.js';

/**
 * `npm run chaos`, shortened (QUICK_TIMING): each scenario on a fresh local stack, and for every one
 * of them every reading taken is stored exactly once. The full run prints the same rows as a table.
 */
const byName = (name: string) => SCENARIOS.find((s) => s.name === name)!;

function expectNothingLost(row: ScenarioRow): void {
  expect(row.sent).toBeGreaterThan(100);
  expect({ lost: row.lost, storedTwice: row.storedTwice, unexpected: row.unexpected, stored: row.stored }).toEqual({
    lost: 0,
    storedTwice: 0,
    unexpected: 0,
    stored: row.sent,
  });
}

describe('chaos scenarios (shortened): nothing lost, nothing stored twice', () => {
  it('steady baseline: no refusals, no duplicates', async () => {
    const row = await runScenario(byName('steady'), QUICK_TIMING);
    expectNothingLost(row);
    expect(row.rejected).toBe(0);
  }, 120_000);

  // Scenarios whose fault shows in one counted note: it must be above a floor, so the fault really bit.
  const faults: [scenario: string, what: string, note: string, floor: number][] = [
    ['broker restart', 'readings wait on the devices while it is down', 'bufferedWhileDown', 0],
    ['service SIGTERM', 'what arrives while the service is down is decrypted after it comes back', 'takenWhileDown', 20],
    ['service SIGKILL', 'what arrives while the service is down is decrypted after it comes back', 'takenWhileDown', 20],
    ['device cut off', 'it buffers, reconnects and delivers everything', 'bufferedWhileCut', 10],
    ['key rotation', 'session keys rotating mid-stream', 'keyExchanges', 8],
  ];
  for (const [scenario, what, note, floor] of faults) {
    it(`${scenario}: ${what}`, async () => {
      const row = await runScenario(byName(scenario), QUICK_TIMING);
      expectNothingLost(row);
      expect(row.notes[note]).toBeGreaterThan(floor);
    }, 120_000);
  }

  it('a hostile flood from a valid identity: every message refused and counted, others unharmed, then cut off by config', async () => {
    const row = await runScenario(byName('hostile flood'), QUICK_TIMING);
    expectNothingLost(row);
    expect(row.notes.floodAccepted).toBe(QUICK_TIMING.floodMessages);
    // Each flood message is either a counted refusal or a counted duplicate (a replay inside the window).
    // (+1: the garbage byte the open connection sends before the cut-off.)
    expect(row.rejected + row.duplicatesRemoved).toBe(Number(row.notes.floodAccepted) + 1);
    expect(row.rejected).toBeGreaterThan(0);
    expect(row.notes.refusedAfterCutOff).toBe(200);
    // The connection that was already open when the ACL changed is refused too.
    expect([row.notes.openConnectionRefusedBeforeCutOff, row.notes.openConnectionRefusedAfterCutOff]).toEqual(['false', 'true']);
    expect(row.notes.acceptedAfterCutOff).toBe(0);
  }, 120_000);
});
