export { normalizeSerial } from './serial-number.js';
export { issueRevocationList, type RevocationListRequest, type RevokedCertificate, type RevocationReason } from './issue-revocation-list.js';
export { readRevocationList, RevocationListError, type RevocationList, type RevocationListErrorCode } from './revocation-list.js';
export { revocationWindow, type RevocationWindow } from './revocation-window.js';
