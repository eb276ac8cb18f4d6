import {
  TAG,
  bitStringBytes,
  childrenOf,
  contents,
  expectChildren,
  expectTag,
  integerBytes,
  readOid,
  readRoot,
  whole,
  type Tlv,
} from './der.js';
import { refuse } from './errors.js';

/**
 * Reads an X.509 certificate from DER without OpenSSL. On the key-exchange path, `new X509Certificate`
 * costs more than the CA signature check itself, because OpenSSL 3 runs its generic key decoder for
 * the public key; reading the fields here and building the key from JWK halves the first-sight cost.
 *
 * Why a small reader is safe here: the caller trusts nothing it reads until the CA signature over the
 * exact `tbs` bytes verifies, and every field it then uses comes from inside those signed bytes. Only
 * the CA can have chosen them. The reader is still strict (DER only, no trailing bytes) so that
 * malformed input is refused early and the same way every time.
 */
export const KEY_USAGE = {
  digitalSignature: 1 << 0,
  nonRepudiation: 1 << 1,
  keyEncipherment: 1 << 2,
  dataEncipherment: 1 << 3,
  keyAgreement: 1 << 4,
  keyCertSign: 1 << 5,
  cRLSign: 1 << 6,
  encipherOnly: 1 << 7,
  decipherOnly: 1 << 8,
} as const;

export const OID = {
  commonName: '2.5.4.3',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extendedKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  ecPublicKey: '1.2.840.10045.2.1',
  prime256v1: '1.2.840.10045.3.1.7',
  rsaEncryption: '1.2.840.113549.1.1.1',
} as const;

/** Extensions whose meaning this reader knows; a critical extension outside this list is reported. */
const UNDERSTOOD_EXTENSIONS: ReadonlySet<string> = new Set([
  OID.basicConstraints,
  OID.keyUsage,
  OID.extendedKeyUsage,
  OID.subjectAltName,
  OID.subjectKeyIdentifier,
  OID.authorityKeyIdentifier,
]);

export interface CertificateFields {
  /** The exact bytes the issuer signed (TBSCertificate, header included). */
  tbs: Buffer;
  /** The outer signatureAlgorithm, which must equal the one inside `tbs`. */
  signatureAlgorithm: string;
  signature: Buffer;
  /** Upper-case hex of the serial INTEGER's bytes (revocation/serial-number.ts normalizes it). */
  serialNumber: string;
  /** Whole Name encodings, compared byte for byte. */
  issuer: Buffer;
  subject: Buffer;
  /** Every CN in the subject; a value of a string type this reader does not decode is `undefined`. */
  commonNames: (string | undefined)[];
  notBefore: number;
  notAfter: number;
  /** The whole SubjectPublicKeyInfo, its algorithm, the curve for EC keys, and the key bits. */
  publicKey: { spki: Buffer; algorithm: string; namedCurve: string | undefined; bits: Buffer };
  basicConstraintsCa: boolean;
  /** undefined when the certificate has no keyUsage extension. */
  keyUsageFlags: number | undefined;
  /** Dotted OIDs of extendedKeyUsage; empty when absent. */
  extendedKeyUsages: string[];
  unknownCriticalExtensions: string[];
}

export function readCertificate(der: Buffer): CertificateFields {
  const root = expectTag(readRoot(der), TAG.sequence, 'Certificate');
  const [tbsTlv, outerAlgorithm, signatureTlv] = expectChildren(der, root, 3, 3, 'Certificate');
  expectTag(tbsTlv, TAG.sequence, 'TBSCertificate');
  const fields = childrenOf(der, tbsTlv!);
  let next = 0;
  if (fields[0]?.tag === 0xa0) {
    const [version] = expectChildren(der, fields[0], 1, 1, 'version');
    const value = integerBytes(der, version, 'version');
    if (value.length !== 1 || value[0]! > 2) refuse('malformed', 'DER: unknown certificate version');
    next = 1;
  }
  const serial = integerBytes(der, fields[next], 'serialNumber');
  const innerAlgorithm = expectTag(fields[next + 1], TAG.sequence, 'signature AlgorithmIdentifier');
  const issuer = expectTag(fields[next + 2], TAG.sequence, 'issuer');
  const validity = expectChildren(der, expectTag(fields[next + 3], TAG.sequence, 'validity'), 2, 2, 'validity');
  const subject = expectTag(fields[next + 4], TAG.sequence, 'subject');
  const spki = expectTag(fields[next + 5], TAG.sequence, 'subjectPublicKeyInfo');
  let extensions: Tlv | undefined;
  // [1] issuerUniqueID and [2] subjectUniqueID are skipped; [3] holds the extensions. In that order,
  // each at most once.
  let lastOptional = 0;
  for (const optional of fields.slice(next + 6)) {
    const rank = optional.tag === 0x81 ? 1 : optional.tag === 0x82 ? 2 : optional.tag === 0xa3 ? 3 : 0;
    if (rank <= lastOptional) refuse('malformed', 'DER: unexpected field in TBSCertificate');
    lastOptional = rank;
    if (rank === 3) extensions = optional;
  }
  if (!whole(der, innerAlgorithm).equals(whole(der, expectTag(outerAlgorithm, TAG.sequence, 'signatureAlgorithm')))) {
    refuse('malformed', 'signature algorithm differs inside and outside the signed part');
  }
  const extensionFields = readExtensions(der, extensions);
  return {
    tbs: whole(der, tbsTlv!),
    signatureAlgorithm: readOid(der, childrenOf(der, outerAlgorithm!)[0], 'signature algorithm'),
    signature: bitStringBytes(der, signatureTlv, 'signature', true),
    serialNumber: serial.toString('hex').toUpperCase(),
    issuer: whole(der, issuer),
    subject: whole(der, subject),
    commonNames: readCommonNames(der, subject),
    notBefore: readTime(der, validity[0]!),
    notAfter: readTime(der, validity[1]!),
    publicKey: readPublicKeyInfo(der, spki),
    ...extensionFields,
  };
}

function readCommonNames(der: Buffer, name: Tlv): (string | undefined)[] {
  const names: (string | undefined)[] = [];
  for (const rdn of childrenOf(der, name)) {
    for (const attribute of childrenOf(der, expectTag(rdn, TAG.set, 'RelativeDistinguishedName'))) {
      const [type, value] = expectChildren(der, expectTag(attribute, TAG.sequence, 'AttributeTypeAndValue'), 2, 2, 'attribute');
      if (readOid(der, type, 'attribute type') !== OID.commonName) continue;
      names.push(decodeDirectoryString(der, value!));
    }
  }
  return names;
}

function decodeDirectoryString(der: Buffer, value: Tlv): string | undefined {
  const bytes = contents(der, value);
  switch (value.tag) {
    case TAG.utf8String:
      return bytes.toString('utf8');
    case TAG.printableString:
    case TAG.ia5String:
    case TAG.teletexString:
      return bytes.toString('latin1');
    default:
      return undefined;
  }
}

/** UTCTime (YYMMDDHHMMSSZ, 1950-2049) or GeneralizedTime (YYYYMMDDHHMMSSZ), as RFC 5280 4.1.2.5 fixes them. */
function readTime(der: Buffer, tlv: Tlv): number {
  const text = contents(der, tlv).toString('latin1');
  let year: number;
  let rest: string;
  if (tlv.tag === TAG.utcTime && /^\d{12}Z$/.test(text)) {
    const yy = Number(text.slice(0, 2));
    year = yy < 50 ? 2000 + yy : 1900 + yy;
    rest = text.slice(2);
  } else if (tlv.tag === TAG.generalizedTime && /^\d{14}Z$/.test(text)) {
    year = Number(text.slice(0, 4));
    rest = text.slice(4);
    // RFC 5280 wants UTCTime up to 2049; earlier GeneralizedTime years are tolerated from 1950, and
    // years below 100 would be read by Date.UTC as 19xx.
    if (year < 1950) refuse('malformed', 'DER: certificate time before 1950');
  } else {
    return refuse('malformed', 'DER: bad certificate time');
  }
  const [month, day, hour, minute, second] = [0, 2, 4, 6, 8].map((i) => Number(rest.slice(i, i + 2))) as [number, number, number, number, number];
  const time = Date.UTC(year, month - 1, day, hour, minute, second);
  const check = new Date(time);
  if (check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) {
    refuse('malformed', 'DER: certificate time out of range');
  }
  return time;
}

function readPublicKeyInfo(der: Buffer, spki: Tlv): CertificateFields['publicKey'] {
  const [algorithmIdentifier, key] = expectChildren(der, spki, 2, 2, 'subjectPublicKeyInfo');
  const [algorithm, parameters] = expectChildren(der, expectTag(algorithmIdentifier, TAG.sequence, 'key algorithm'), 1, 2, 'key algorithm');
  const algorithmId = readOid(der, algorithm, 'key algorithm');
  // rsaEncryption takes an empty NULL (RFC 3279 2.3.1), as OpenSSL insists.
  if (algorithmId === OID.rsaEncryption && (parameters?.tag !== TAG.null || parameters.end !== parameters.start)) {
    refuse('malformed', 'DER: rsaEncryption parameters must be NULL');
  }
  return {
    spki: whole(der, spki),
    algorithm: algorithmId,
    namedCurve: parameters?.tag === TAG.oid ? readOid(der, parameters, 'named curve') : undefined,
    bits: bitStringBytes(der, key, 'subjectPublicKey', true),
  };
}

type ExtensionFields = Pick<CertificateFields, 'basicConstraintsCa' | 'keyUsageFlags' | 'extendedKeyUsages' | 'unknownCriticalExtensions'>;

function readExtensions(der: Buffer, wrapper: Tlv | undefined): ExtensionFields {
  const fields: ExtensionFields = { basicConstraintsCa: false, keyUsageFlags: undefined, extendedKeyUsages: [], unknownCriticalExtensions: [] };
  if (!wrapper) return fields;
  const [list] = expectChildren(der, wrapper, 1, 1, 'extensions');
  const seen = new Set<string>();
  for (const extension of childrenOf(der, expectTag(list, TAG.sequence, 'Extensions'))) {
    const parts = expectChildren(der, expectTag(extension, TAG.sequence, 'Extension'), 2, 3, 'Extension');
    const id = readOid(der, parts[0], 'extension id');
    if (seen.has(id)) refuse('malformed', `DER: extension ${id} appears twice`);
    seen.add(id);
    let critical = false;
    if (parts.length === 3) {
      const flag = contents(der, expectTag(parts[1], TAG.boolean, 'critical'));
      if (flag.length !== 1 || (flag[0] !== 0 && flag[0] !== 0xff)) refuse('malformed', 'DER: bad BOOLEAN');
      critical = flag[0] === 0xff;
    }
    const value = contents(der, expectTag(parts[parts.length - 1], TAG.octetString, 'extnValue'));
    if (critical && !UNDERSTOOD_EXTENSIONS.has(id)) fields.unknownCriticalExtensions.push(id);
    if (id === OID.basicConstraints) fields.basicConstraintsCa = readBasicConstraintsCa(value);
    else if (id === OID.keyUsage) fields.keyUsageFlags = readKeyUsage(value);
    else if (id === OID.extendedKeyUsage) fields.extendedKeyUsages = readExtendedKeyUsage(value);
  }
  return fields;
}

function readBasicConstraintsCa(value: Buffer): boolean {
  const sequence = expectTag(readRoot(value), TAG.sequence, 'BasicConstraints');
  const [first] = expectChildren(value, sequence, 0, 2, 'BasicConstraints');
  if (first?.tag !== TAG.boolean) return false;
  const flag = contents(value, first);
  if (flag.length !== 1) refuse('malformed', 'DER: bad BOOLEAN');
  return flag[0] !== 0;
}

function readKeyUsage(value: Buffer): number {
  const bits = readRoot(value);
  const bytes = bitStringBytes(value, bits, 'keyUsage', false);
  // DER: the unused trailing bits are zero; OpenSSL masks them, this reader refuses them.
  const unused = value[bits.start]!;
  if (bytes.length > 0 && (bytes[bytes.length - 1]! & ((1 << unused) - 1)) !== 0) refuse('malformed', 'DER: keyUsage sets unused bits');
  let flags = 0;
  for (let i = 0; i < 9; i++) {
    const byte = i >> 3;
    if (byte < bytes.length && bytes[byte]! & (0x80 >> (i & 7))) flags |= 1 << i;
  }
  return flags;
}

function readExtendedKeyUsage(value: Buffer): string[] {
  const sequence = expectTag(readRoot(value), TAG.sequence, 'ExtKeyUsageSyntax');
  return childrenOf(value, sequence).map((purpose) => readOid(value, purpose, 'key purpose'));
}

/** The modulus and exponent of an RSAPublicKey (PKCS #1), as unsigned big-endian bytes. */
export function readRsaPublicKey(bits: Buffer): { modulus: Buffer; exponent: Buffer } {
  const sequence = expectTag(readRoot(bits), TAG.sequence, 'RSAPublicKey');
  const [n, e] = expectChildren(bits, sequence, 2, 2, 'RSAPublicKey');
  const modulus = integerBytes(bits, n, 'modulus');
  const exponent = integerBytes(bits, e, 'publicExponent');
  if (modulus[0]! >= 0x80 || exponent[0]! >= 0x80) refuse('malformed', 'DER: negative RSA key component');
  // An even or tiny exponent (e = 1 makes RSA the identity) is no RSA key.
  if ((exponent[exponent.length - 1]! & 1) === 0 || (exponent.length === 1 && exponent[0]! < 3)) refuse('malformed', 'DER: bad RSA public exponent');
  return { modulus: modulus[0] === 0 ? modulus.subarray(1) : modulus, exponent };
}
