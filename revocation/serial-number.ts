/**
 * Serial numbers as upper-case hex without separators or leading zero bytes, so that node's
 * X509Certificate.serialNumber, @peculiar/x509's CRL entries and `openssl x509 -serial` or `-text`
 * output (with colons and a leading 00: for a high first bit) compare equal. At most 20 bytes (RFC 5280).
 */
export function normalizeSerial(serial: string): string {
  const hex = serial.replace(/[:\s]/g, '').replace(/^0x/i, '').toUpperCase();
  if (!/^[0-9A-F]+$/.test(hex)) throw new Error(`not a certificate serial number: ${serial}`);
  const stripped = hex.replace(/^(00)+(?=[0-9A-F]{2})/, '');
  const even = stripped.length % 2 ? `0${stripped}` : stripped;
  if (even.length > 40) throw new Error(`certificate serial number longer than 20 bytes: ${serial}`);
  return even;
}
