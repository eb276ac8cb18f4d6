import { createPrivateKey, randomInt } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pemToDer, TrustStore } from '../protocol/certificates.js';
import { acceptKexRequest, createKexRequest, DEFAULT_KEX_POLICY, ecdhFromPrivateKey, MemoryNonceRegistry, type ServiceKeyMaterial } from '../protocol/kex.js';
import { deviceTopic } from '../protocol/topics.js';
import type { KexScheme } from '../protocol/wire.js';
import { MessageHandler } from '../services/key-service/message-handler.js';
import { ServiceMetrics } from '../services/key-service/metrics.js';
import { ReadingsStore } from '../services/key-service/readings-store.js';
import { SessionRegistry } from '../services/key-service/session-registry.js';
import { SessionVault } from '../services/key-service/session-vault.js';
import { SERVICE_IDENTITY, type BenchDevice, type BenchPki } from './pki.js';
import { summarize, type Summary } from './stats.js';

export interface KexRateResult {
  scheme: KexScheme;
  /** 'protocol': acceptKexRequest alone; 'service': the service's MessageHandler with SQLite nonce and session storage. */
  path: 'protocol' | 'service';
  certificates: number;
  coldPerSec: Summary;
  warmPerSec: Summary;
}

interface Prepared {
  deviceId: string;
  message: Buffer;
}

/** Service key material exactly as the key service loads it (key-service.ts, loadServiceKeys). */
function serviceKeys(pki: BenchPki, trust: TrustStore): { keys: ServiceKeyMaterial; ec: ReturnType<TrustStore['verifyServiceCertificate']>; rsa: ReturnType<TrustStore['verifyServiceCertificate']>; vaultSecret: Buffer } {
  const now = Date.now();
  const ecKey = createPrivateKey(readFileSync(pki.local.serviceKexEc.keyPath));
  const ec = trust.verifyServiceCertificate(pemToDer(readFileSync(pki.local.serviceKexEc.certPath, 'utf8')), SERVICE_IDENTITY, 'ecdhP256', now);
  const rsa = trust.verifyServiceCertificate(pemToDer(readFileSync(pki.local.serviceKexRsa.certPath, 'utf8')), SERVICE_IDENTITY, 'rsaOaepSha256', now);
  return {
    keys: {
      ecdh: { certFingerprint: ec.fingerprint, privateKey: ecdhFromPrivateKey(ecKey) },
      rsa: { certFingerprint: rsa.fingerprint, privateKey: createPrivateKey(readFileSync(pki.local.serviceKexRsa.keyPath)) },
    },
    ec,
    rsa,
    vaultSecret: Buffer.from(ecKey.export({ format: 'jwk' }).d ?? '', 'base64url'),
  };
}

/** Signed requests made by the device side before the clock starts: only the service's work is timed. */
function prepare(devices: readonly BenchDevice[], scheme: KexScheme, service: ReturnType<TrustStore['verifyServiceCertificate']>): Prepared[] {
  return devices.map((d) => {
    const identity = { deviceId: d.id, certificateDer: pemToDer(d.credential.certPem), privateKey: createPrivateKey(d.credential.keyPem) };
    const { message } = createKexRequest({ identity, service, scheme, keyId: randomInt(0, 0xffffffff), now: Date.now() });
    return { deviceId: d.id, message };
  });
}


/**
 * Key exchanges per second with full verification (framing, freshness, chain to the CA, usages, CN,
 * signature, nonce). Cold: a fresh TrustStore per run, so every certificate is seen for the first
 * time (parse + chain check); warm: the same certificates again, now cached by fingerprint.
 */
export function runKexRate(pki: BenchPki, runs: number, ecCount: number, dir: string): KexRateResult[] {
  const setupTrust = new TrustStore(pki.caPem);
  const material = serviceKeys(pki, setupTrust);
  const pools: [KexScheme, BenchDevice[], ReturnType<TrustStore['verifyServiceCertificate']>][] = [
    ['ecdhP256', pki.ecDevices.slice(0, ecCount), material.ec],
    ['rsaOaepSha256', pki.rsaDevices, material.rsa],
  ];
  const results: KexRateResult[] = [];
  for (const [scheme, devices, serviceCert] of pools) {
    const cold: number[] = [];
    const warm: number[] = [];
    for (let run = 0; run < runs; run++) {
      const trust = new TrustStore(pki.caPem);
      const nonces = new MemoryNonceRegistry();
      const first = prepare(devices, scheme, serviceCert);
      const again = prepare(devices, scheme, serviceCert);
      const timed = (batch: Prepared[]) => {
        const started = performance.now();
        for (const { deviceId, message } of batch) {
          acceptKexRequest(message, deviceId, { trust, serviceKeys: material.keys, nonces, policy: DEFAULT_KEX_POLICY, now: Date.now() });
        }
        return batch.length / ((performance.now() - started) / 1000);
      };
      cold.push(timed(first));
      warm.push(timed(again));
    }
    results.push({ scheme, path: 'protocol', certificates: devices.length, coldPerSec: summarize(cold), warmPerSec: summarize(warm) });
  }

  // The same for ECDH through the service's handler: adds the SQLite nonce insert and the sealed,
  // persisted session install that every accepted exchange costs the running service, committed once.
  const cold: number[] = [];
  const warm: number[] = [];
  const devices = pki.ecDevices.slice(0, ecCount);
  for (let run = 0; run < runs; run++) {
    const dbPath = join(dir, `kex-rate-${run}.db`);
    const store = new ReadingsStore(dbPath);
    const metrics = new ServiceMetrics();
    const registry = new SessionRegistry(store, new SessionVault(material.vaultSecret), { graceMs: 300_000, replayWindow: 1024 });
    const handler = new MessageHandler({ trust: new TrustStore(pki.caPem), serviceKeys: material.keys, store, registry, metrics, kexPolicy: DEFAULT_KEX_POLICY });
    const timed = (batch: Prepared[]) => {
      const started = performance.now();
      for (const { deviceId, message } of batch) {
        // As the service runs it (ack-after-commit.ts), with one message per network read: the worst case.
        store.group.begin();
        const result = handler.handle(deviceTopic(deviceId, 'kex'), message);
        store.group.commit([]);
        if (result.kind !== 'key-exchange') throw new Error(`kex refused: ${result.kind === 'rejected' ? result.code : result.kind}`);
      }
      return batch.length / ((performance.now() - started) / 1000);
    };
    const first = prepare(devices, 'ecdhP256', material.ec);
    const again = prepare(devices, 'ecdhP256', material.ec);
    cold.push(timed(first));
    warm.push(timed(again));
    store.close();
    for (const suffix of ['', '-wal', '-shm']) rmSync(dbPath + suffix, { force: true });
  }
  results.push({ scheme: 'ecdhP256', path: 'service', certificates: devices.length, coldPerSec: summarize(cold), warmPerSec: summarize(warm) });
  return results;
}
