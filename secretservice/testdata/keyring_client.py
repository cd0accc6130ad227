"""python-keyring with its SecretService backend, as a program that
calls keyring.set_password would on a Linux desktop."""
import sys

import keyring
import keyring.backends.SecretService

keyring.set_keyring(keyring.backends.SecretService.Keyring())
print(type(keyring.get_keyring()).__module__)
keyring.set_password("keyring-test", "alice", "pw-1")
print(keyring.get_password("keyring-test", "alice"))
keyring.set_password("keyring-test", "alice", "pw-2")
print(keyring.get_password("keyring-test", "alice"))
keyring.set_password("keyring-test", "bob", "pw-bob")
cred = keyring.get_credential("keyring-test", None)
print(cred.username if cred else None)
keyring.delete_password("keyring-test", "alice")
print(keyring.get_password("keyring-test", "alice"))
print(keyring.get_password("keyring-test", "bob"))
