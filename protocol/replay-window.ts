/**
 * Sliding anti-replay window over one session's sequence numbers (RFC 4303 style, any width).
 * `check` classifies without changing state; `accept` records a sequence number after its envelope
 * authenticated, so forged envelopes can never move the window.
 */
export type SequenceVerdict = 'new' | 'duplicate' | 'behind-window';

export const DEFAULT_REPLAY_WINDOW = 1024;

export class ReplayWindow {
  private highest = -1;
  private readonly seen: Uint8Array;

  constructor(readonly size: number = DEFAULT_REPLAY_WINDOW) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError('replay window size must be a positive integer');
    this.seen = new Uint8Array(size);
  }

  get highestAccepted(): number {
    return this.highest;
  }

  check(seq: number): SequenceVerdict {
    if (seq > this.highest) return 'new';
    if (seq <= this.highest - this.size) return 'behind-window';
    return this.seen[seq % this.size] === 1 ? 'duplicate' : 'new';
  }

  accept(seq: number): void {
    if (seq > this.highest) {
      // Clear the slots the window slides past, then move its leading edge.
      const steps = Math.min(seq - this.highest, this.size);
      for (let i = 1; i <= steps; i++) this.seen[(this.highest + i) % this.size] = 0;
      this.highest = seq;
    }
    this.seen[seq % this.size] = 1;
  }
}
