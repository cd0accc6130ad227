//go:build linux

package secretservice

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"math/big"
	"testing"
)

func unhexT(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDHKnownAnswer(t *testing.T) {
	pair, err := newDHKeyPair(bytes.NewReader(unhexT(t, vecServerPrivate)))
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(pair.publicBytes()); got != vecServerPublic {
		t.Errorf("public key %s, want %s", got, vecServerPublic)
	}
	key, err := pair.sessionKey(unhexT(t, vecClientPublic))
	if err != nil || hex.EncodeToString(key) != vecKey {
		t.Fatalf("session key %x, %v; want %s", key, err, vecKey)
	}
	iv, ct, err := encryptCBC(key, []byte(vecPlaintext), bytes.NewReader(unhexT(t, vecIV)))
	if err != nil || hex.EncodeToString(iv) != vecIV || hex.EncodeToString(ct) != vecCiphertext {
		t.Errorf("encrypt: %x %x, %v; want %s", iv, ct, err, vecCiphertext)
	}
	pt, err := decryptCBC(key, iv, ct)
	if err != nil || string(pt) != vecPlaintext {
		t.Errorf("decrypt: %q, %v", pt, err)
	}
}

// Degenerate public keys would make the shared secret public.
func TestDHRefusesDegenerateKeys(t *testing.T) {
	pair, err := newDHKeyPair(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pMinus1 := new(big.Int).Sub(dhPrime, big.NewInt(1)).Bytes()
	for name, peer := range map[string][]byte{"0": {}, "1": {1}, "p-1": pMinus1, "p": dhPrime.Bytes()} {
		if _, err := pair.sessionKey(peer); err != errBadPeerKey {
			t.Errorf("peer key %s: %v, want errBadPeerKey", name, err)
		}
	}
}

// A ciphertext that is not whole blocks, or whose padding is wrong, is
// an error, never a wrong secret.
func TestCBCRefusesDamage(t *testing.T) {
	key := make([]byte, aesKeyLen)
	iv, ct, err := encryptCBC(key, []byte("sixteen bytes!!!"), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if len(ct) != 32 {
		t.Errorf("a whole block of plaintext gets a whole block of padding: %d bytes", len(ct))
	}
	bad := append([]byte{}, ct...)
	bad[len(bad)-1] ^= 1 // garbles the last block's padding
	for name, tc := range map[string]struct{ iv, ct []byte }{
		"short IV":      {iv[:8], ct},
		"empty":         {iv, nil},
		"partial block": {iv, ct[:20]},
		"bad padding":   {iv, bad},
	} {
		if _, err := decryptCBC(key, tc.iv, tc.ct); err == nil {
			t.Errorf("%s: decrypted", name)
		}
	}
}
