import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBenchPki } from './pki.js';
import { TrustStore, pemToDer } from '../protocol/certificates.js';
const dir = mkdtempSync(join(tmpdir(), 'kp-'));
const pki = await createBenchPki(dir, 300, 0);
const ders = pki.ecDevices.map((d) => [d.id, pemToDer(d.credential.certPem)] as const);
for (let r = 0; r < 8; r++) {
  const trust = new TrustStore(pki.caPem);
  const s = performance.now();
  for (const [id, der] of ders) trust.verifyDeviceCertificate(der, id, Date.now());
  console.log('cold verifyDeviceCertificate us', ((performance.now() - s) / ders.length * 1000).toFixed(1));
}
