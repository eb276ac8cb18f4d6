"""Known-answer vectors for docs/protocol.md, computed independently of the TypeScript code
(Python `cryptography`). Run: python3 test/protocol/vectors/generate-vectors.py > test/protocol/vectors/vectors.json"""
import hashlib, hmac, json, struct
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

def u48(n): return n.to_bytes(6, 'big')

# Envelope: header | AES-256-GCM(key, nonce = keyId || 0^4 || seq, aad = header || deviceId)
key = bytes(range(32))
device_id = b'sensor-001'
key_id, seq, sent_at = 0x01020304, 5, 1700000000123
plaintext = bytes([1]) + u48(1700000000000) + struct.pack('>hH', 2137, 4550)  # 21.37 C, 45.50 %RH
header = bytes([1, 2]) + struct.pack('>II', key_id, seq) + u48(sent_at)
nonce = struct.pack('>I', key_id) + bytes(4) + struct.pack('>I', seq)
envelope = header + AESGCM(key).encrypt(nonce, plaintext, header + device_id)

# Session keys: HKDF-SHA256(secret, salt = kex nonce, info = label || SHA-256(signed transcript)), 64 bytes
secret, kex_nonce, transcript = bytes([0x11]) * 32, bytes([0x22]) * 16, b'signed key-exchange transcript'
info = b'smqtt/1 session keys' + hashlib.sha256(transcript).digest()
okm = HKDF(algorithm=hashes.SHA256(), length=64, salt=kex_nonce, info=info).derive(secret)
confirmation = hmac.new(okm[32:], b'smqtt/1 kex-ack' + device_id + struct.pack('>I', key_id), hashlib.sha256).digest()

# ECDH P-256 between two fixed private scalars, as the service computes it from the device's point
d_device, d_service = 0x1234567890ABCDEF, 0xFEDCBA0987654321
device_priv = ec.derive_private_key(d_device, ec.SECP256R1())
service_priv = ec.derive_private_key(d_service, ec.SECP256R1())
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
device_point = device_priv.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
shared = service_priv.exchange(ec.ECDH(), device_priv.public_key())

print(json.dumps({
  'envelope': {'key': key.hex(), 'deviceId': device_id.decode(), 'keyId': key_id, 'seq': seq, 'sentAt': sent_at,
               'plaintext': plaintext.hex(), 'envelope': envelope.hex()},
  'sessionKeys': {'secret': secret.hex(), 'nonce': kex_nonce.hex(), 'transcript': transcript.hex(),
                  'encryptionKey': okm[:32].hex(), 'confirmationKey': okm[32:].hex(),
                  'deviceId': device_id.decode(), 'keyId': key_id, 'confirmation': confirmation.hex()},
  'ecdh': {'servicePrivate': d_service.to_bytes(32, 'big').hex(), 'devicePoint': device_point.hex(), 'shared': shared.hex()},
}, indent=2))
