import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ReplayWindow } from '../../protocol/replay-window.js';

describe('replay window', () => {
  it('accepts new numbers, flags repeats, refuses numbers behind the window', () => {
    const window = new ReplayWindow(8);
    expect(window.check(0)).toBe('new');
    window.accept(0);
    expect(window.check(0)).toBe('duplicate');
    window.accept(20);
    expect(window.check(12)).toBe('behind-window');
    expect(window.check(13)).toBe('new'); // inside the window, never seen: out-of-order delivery is fine
    window.accept(13);
    expect(window.check(13)).toBe('duplicate');
  });

  it('agrees with a model that remembers everything, for any arrival order', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), fc.array(fc.nat(300), { maxLength: 400 }), (size, arrivals) => {
        const window = new ReplayWindow(size);
        const seen = new Set<number>();
        let highest = -1;
        for (const seq of arrivals) {
          const expected = seq <= highest - size ? 'behind-window' : seen.has(seq) ? 'duplicate' : 'new';
          expect(window.check(seq)).toBe(expected);
          if (expected === 'new') {
            window.accept(seq);
            seen.add(seq);
            highest = Math.max(highest, seq);
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});
