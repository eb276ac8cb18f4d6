/** Serial numbers as upper-case hex without separators or leading zero bytes beyond DER's own. */
export function normalizeSerial(serial: string): string {
  const hex = serial.replace(/[:\s]/g, '').replace(/^0x/i, '').toUpperCase();
  if (!/^[0-9A-F]+$/.test(hex) || hex.length > 40) throw new Error(`not a certificate serial number: ${serial}`);
  const stripped = hex.replace(/^(00)+(?=[0-9A-F]{2})/, '');
  return stripped.length % 2 ? `0${stripped}` : stripped;
}
