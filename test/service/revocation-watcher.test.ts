import { X509Certificate } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CertificateAuthority } from '../../local/throwaway-pki.js';
import { issueRevocationList, normalizeSerial, type RevocationList, type RevocationListError } from '../../revocation/index.js';
import { RevocationWatcher } from '../../services/key-service/revocation-watcher.js';

const HOUR = 3_600_000;
let ca: CertificateAuthority;
let serial: string;

beforeAll(async () => {
  ca = await CertificateAuthority.create('watcher-test-ca');
  serial = new X509Certificate((await ca.issue({ commonName: 'sensor-001', usage: 'client' })).certPem).serialNumber;
});

const crl = (serials: string[], thisUpdateAgoMs: number) =>
  issueRevocationList({
    issuerCertPem: ca.credential.certPem,
    issuerKeyPem: ca.credential.keyPem,
    revoked: serials.map((serialNumber) => ({ serialNumber, revokedAt: new Date(Date.now() - 2 * HOUR) })),
    thisUpdate: new Date(Date.now() - thisUpdateAgoMs),
    nextUpdate: new Date(Date.now() + 24 * HOUR),
  });

async function watching(initialPem: string) {
  const file = join(mkdtempSync(join(tmpdir(), 'smqtt-crl-')), 'crl.pem');
  writeFileSync(file, initialPem);
  const lists: RevocationList[] = [];
  const rejected: RevocationListError[] = [];
  const watcher = new RevocationWatcher({ file, caCertPem: ca.credential.certPem, onList: (l) => lists.push(l), onRejected: (e) => rejected.push(e), pollMs: 60_000 });
  await watcher.start();
  return { file, watcher, lists, rejected };
}

describe('RevocationWatcher', () => {
  it('keeps the list in force when the file turns bad, an older CRL arrives, or the file is gone', async () => {
    const w = await watching(await crl([serial], HOUR));
    try {
      expect([...w.watcher.list!.revokedSerials]).toEqual([normalizeSerial(serial)]);
      writeFileSync(w.file, '-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n');
      await w.watcher.reload();
      writeFileSync(w.file, await crl([], 2 * HOUR)); // valid, but older than the one in force: would un-revoke
      await w.watcher.reload();
      expect(w.rejected.map((e) => e.code)).toEqual(['malformed-crl', 'superseded']);
      expect([...w.watcher.list!.revokedSerials]).toEqual([normalizeSerial(serial)]);
      expect(w.lists).toHaveLength(1);
    } finally {
      w.watcher.stop();
    }
  });

  it('takes a newer CRL, and refuses to start on an unusable one', async () => {
    const w = await watching(await crl([], HOUR));
    try {
      writeFileSync(w.file, await crl([serial], 60_000));
      await w.watcher.reload();
      expect(w.lists.map((l) => l.revokedSerials.size)).toEqual([0, 1]);
    } finally {
      w.watcher.stop();
    }
    await expect(watching('not a crl')).rejects.toMatchObject({ code: 'malformed-crl' });
  });
});
