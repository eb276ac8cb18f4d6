import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLocalPki, SERVICE_IDENTITY, type LocalPki } from '../local/local-pki.js';
import type { Credential } from '../local/throwaway-pki.js';

/** A device as the benchmarks use it: id (= certificate CN) and its credential, in memory. */
export interface BenchDevice {
  id: string;
  credential: Credential;
  keyAlgorithm: 'ecdsa-p256' | 'rsa-2048';
}

export interface BenchPki {
  local: LocalPki;
  caPem: string;
  /** The service's client credential: also the baseline's raw publisher (it may write control topics). */
  service: Credential;
  /** ECDSA P-256 devices, ids dev-00000...; the fleet, throughput and kex runs draw from them. */
  ecDevices: BenchDevice[];
  rsaDevices: BenchDevice[];
  /** The baseline's raw subscriber: a device reading its own control topic. */
  rawReader: BenchDevice;
  /** [{id, certPem, keyPem}] on disk, for the fleet worker process. */
  devicesFile: string;
}

/**
 * The stack's PKI via local/local-pki.ts (CA, broker, service and its key-agreement certificates on
 * disk, exactly as `npm run local` makes them), plus device credentials issued in memory: writing
 * 10,000 key files is not what is being measured.
 */
export async function createBenchPki(dir: string, ecCount: number, rsaCount: number): Promise<BenchPki> {
  const local = await createLocalPki({ dir, deviceIds: [] });
  const issue = async (id: string, keyAlgorithm: BenchDevice['keyAlgorithm']): Promise<BenchDevice> => ({
    id,
    keyAlgorithm,
    credential: await local.ca.issue({ commonName: id, usage: 'client', keyAlgorithm }),
  });
  // RSA key generation runs on libuv's pool; start it first so it overlaps the EC issuance.
  const rsa = Promise.all(Array.from({ length: rsaCount }, (_, i) => issue(`rsa-${String(i).padStart(5, '0')}`, 'rsa-2048')));
  const ecDevices = await Promise.all(Array.from({ length: ecCount }, (_, i) => issue(`dev-${String(i).padStart(5, '0')}`, 'ecdsa-p256')));
  const rawReader = await issue('bench-raw', 'ecdsa-p256');
  const rsaDevices = await rsa;
  const devicesFile = join(dir, 'fleet-devices.json');
  writeFileSync(
    devicesFile,
    JSON.stringify(ecDevices.map((d) => ({ id: d.id, certPem: d.credential.certPem, keyPem: d.credential.keyPem }))),
    { mode: 0o600 },
  );
  const service: Credential = {
    certPem: readFileSync(local.service.certPath, 'utf8'),
    keyPem: readFileSync(local.service.keyPath, 'utf8'),
  };
  return { local, caPem: local.ca.certPem, service, ecDevices, rsaDevices, rawReader, devicesFile };
}

export { SERVICE_IDENTITY };
