"""Opens a cosign encrypted private key with libsodium (PyNaCl) and Python's scrypt, independently
of ocipush: PEM -> JSON {kdf: scrypt, cipher: nacl/secretbox} -> PKCS#8 DER written to argv[3]."""
import base64, hashlib, json, sys
import nacl.secret

pem = open(sys.argv[1]).read().strip().splitlines()
assert pem[0] in ('-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----', '-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----'), pem[0]
doc = json.loads(base64.b64decode(''.join(pem[1:-1])))
p = doc['kdf']['params']
key = hashlib.scrypt(sys.argv[2].encode(), salt=base64.b64decode(doc['kdf']['salt']), n=p['N'], r=p['r'], p=p['p'], maxmem=256 * 1024 * 1024, dklen=32)
box = nacl.secret.SecretBox(key)
der = box.decrypt(base64.b64decode(doc['ciphertext']), base64.b64decode(doc['cipher']['nonce']))
open(sys.argv[3], 'wb').write(der)
