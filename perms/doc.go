// Package perms is the kernel's key permission model as pure logic: who is
// asking (Cred), what a key allows (Mask), and whether a request is granted.
// It does no I/O and knows nothing of storage; the key store feeds it the
// facts (owner, group, mask, possession) and acts on its answers.
package perms
