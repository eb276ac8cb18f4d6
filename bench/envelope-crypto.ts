import { randomBytes } from 'node:crypto';
import { openEnvelope, sealEnvelope } from '../protocol/envelope.js';
import { summarize, type Summary } from './stats.js';

export interface CryptoResult {
  operation: 'seal' | 'open';
  plaintextBytes: number;
  opsPerSec: Summary;
}

/** Calls `op` for `durationMs` (checking the clock every 256 calls) and answers calls per second. */
export function opsPerSecond(op: (i: number) => void, durationMs: number): number {
  const started = performance.now();
  let calls = 0;
  let elapsed = 0;
  do {
    for (let i = 0; i < 256; i++) op(calls++);
    elapsed = performance.now() - started;
  } while (elapsed < durationMs);
  return calls / (elapsed / 1000);
}

/** sealEnvelope / openEnvelope throughput, in process, one core: AES-256-GCM plus framing. */
export function runEnvelopeCrypto(runs: number, durationMs: number, sizes = [128, 1024]): CryptoResult[] {
  const key = randomBytes(32);
  const deviceId = 'dev-00000';
  const results: CryptoResult[] = [];
  for (const size of sizes) {
    const plaintext = randomBytes(size);
    const envelope = sealEnvelope(key, deviceId, { keyId: 7, seq: 1, sentAt: Date.now() }, plaintext);
    opsPerSecond(() => openEnvelope(key, deviceId, envelope), 100); // warm-up: JIT and OpenSSL contexts
    const seal: number[] = [];
    const open: number[] = [];
    for (let run = 0; run < runs; run++) {
      seal.push(opsPerSecond((i) => sealEnvelope(key, deviceId, { keyId: 7, seq: i, sentAt: 1_700_000_000_000 }, plaintext), durationMs));
      open.push(opsPerSecond(() => openEnvelope(key, deviceId, envelope), durationMs));
    }
    results.push({ operation: 'seal', plaintextBytes: size, opsPerSec: summarize(seal) });
    results.push({ operation: 'open', plaintextBytes: size, opsPerSec: summarize(open) });
  }
  return results;
}
