import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { normalizeSerial } from './serial-number.js';

export type RevocationListErrorCode = 'malformed-crl' | 'wrong-issuer' | 'bad-signature' | 'not-yet-valid' | 'expired' | 'superseded';

/** Why a CRL cannot be used; the code is stable for logs, metrics and policy messages. */
export class RevocationListError extends Error {
  constructor(
    readonly code: RevocationListErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'RevocationListError';
  }
}

export interface RevocationList {
  thisUpdate: Date;
  nextUpdate: Date | undefined;
  /** Normalized hex serials (see normalizeSerial). */
  revokedSerials: ReadonlySet<string>;
}

/**
 * A CRL checked against the stack CA: parsed, issued and signed by the CA, issued by `now`, and valid
 * at least until `validUntilAtLeast` (default: now).
 * Mosquitto rejects every client once its CRL expires, so an expired CRL is an error here too.
 */
export async function readRevocationList(crlPem: string, caCertPem: string, now: Date, validUntilAtLeast: Date = now): Promise<RevocationList> {
  let crl: x509.X509Crl;
  let ca: x509.X509Certificate;
  try {
    crl = new x509.X509Crl(crlPem);
    ca = new x509.X509Certificate(caCertPem);
  } catch (error) {
    throw new RevocationListError('malformed-crl', `CRL does not parse: ${(error as Error).message}`);
  }
  if (crl.issuerName.toString() !== ca.subjectName.toString()) {
    throw new RevocationListError('wrong-issuer', `CRL issued by "${crl.issuer}", not the stack CA "${ca.subject}"`);
  }
  const signedByCa = await crl.verify({ publicKey: ca.publicKey }, webcrypto as unknown as NonNullable<Parameters<x509.X509Crl['verify']>[1]>).catch(() => false);
  if (!signedByCa) throw new RevocationListError('bad-signature', 'CRL signature does not verify with the stack CA key');
  if (crl.thisUpdate.getTime() > now.getTime()) throw new RevocationListError('not-yet-valid', `CRL thisUpdate ${crl.thisUpdate.toISOString()} is in the future`);
  if (!crl.nextUpdate || crl.nextUpdate.getTime() <= validUntilAtLeast.getTime()) {
    const when = validUntilAtLeast.getTime() > now.getTime() ? `is before ${validUntilAtLeast.toISOString()}` : 'has passed';
    throw new RevocationListError('expired', `CRL nextUpdate ${crl.nextUpdate?.toISOString() ?? '(none)'} ${when}`);
  }
  return {
    thisUpdate: crl.thisUpdate,
    nextUpdate: crl.nextUpdate,
    revokedSerials: new Set(crl.entries.map((entry) => normalizeSerial(entry.serialNumber))),
  };
}
