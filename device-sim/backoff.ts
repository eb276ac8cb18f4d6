/**
 * Exponential back-off with "equal jitter": the delay doubles from minMs up to maxMs and each wait is
 * drawn from [delay/2, delay], so a fleet that lost its broker does not reconnect in lock-step.
 */
export class ExponentialBackoff {
  private attempt = 0;

  constructor(
    private readonly minMs = 1_000,
    private readonly maxMs = 60_000,
    private readonly random: () => number = Math.random,
  ) {
    if (!(minMs > 0 && maxMs >= minMs)) throw new RangeError('backoff needs 0 < minMs <= maxMs');
  }

  next(): number {
    const ceiling = Math.min(this.maxMs, this.minMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    return Math.max(this.minMs, Math.round(ceiling / 2 + (ceiling / 2) * this.random()));
  }

  reset(): void {
    this.attempt = 0;
  }
}
