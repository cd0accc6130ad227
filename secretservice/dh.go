//go:build linux

package secretservice

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"math/big"
)

// The session algorithm dh-ietf1024-sha256-aes128-cbc-pkcs7: a
// Diffie-Hellman exchange in the 1024-bit MODP group of RFC 2409 (group
// 2, generator 2), the shared secret as 128 big-endian bytes run through
// HKDF-SHA256 with no salt and no info into a 16-byte AES-128 key, and
// each secret sent AES-CBC encrypted under a fresh 16-byte IV with
// PKCS#7 padding.
const (
	algPlain = "plain"
	algDH    = "dh-ietf1024-sha256-aes128-cbc-pkcs7"

	dhPrimeLen = 128 // bytes in the group's prime, and in the shared secret
	aesKeyLen  = 16  // bytes: AES-128
	ivLen      = aes.BlockSize
)

// dhPrime is RFC 2409's 1024-bit MODP prime, 2^1024 - 2^960 - 1 +
// 2^64 * (floor(2^894 pi) + 129093).
var dhPrime, _ = new(big.Int).SetString(
	"FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1"+
		"29024E088A67CC74020BBEA63B139B22514A08798E3404DD"+
		"EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245"+
		"E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"+
		"EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381"+
		"FFFFFFFFFFFFFFFF", 16)

var dhGenerator = big.NewInt(2)

// errBadPeerKey is a public key outside 2..p-2: 0, 1 and p-1 would make
// the shared secret known to anyone.
var errBadPeerKey = errors.New("secretservice: peer's public key is outside 2..p-2")

// dhKeyPair is one side's exchange.
type dhKeyPair struct {
	private, public *big.Int
}

// newDHKeyPair draws a private exponent of 1023 random bits, the size
// libsecret and secretstorage use.
func newDHKeyPair(random io.Reader) (*dhKeyPair, error) {
	b := make([]byte, dhPrimeLen)
	if _, err := io.ReadFull(random, b); err != nil {
		return nil, err
	}
	b[0] &= 0x7f // below the prime
	x := new(big.Int).SetBytes(b)
	if x.Cmp(big.NewInt(2)) < 0 {
		x.SetInt64(2)
	}
	return &dhKeyPair{private: x, public: new(big.Int).Exp(dhGenerator, x, dhPrime)}, nil
}

// publicBytes is the public key as 128 big-endian bytes.
func (k *dhKeyPair) publicBytes() []byte { return k.public.FillBytes(make([]byte, dhPrimeLen)) }

// sessionKey derives the AES key shared with the peer whose public key is
// peer (big-endian, any length).
func (k *dhKeyPair) sessionKey(peer []byte) ([]byte, error) {
	y := new(big.Int).SetBytes(peer)
	pMinus1 := new(big.Int).Sub(dhPrime, big.NewInt(1))
	if y.Cmp(big.NewInt(1)) <= 0 || y.Cmp(pMinus1) >= 0 {
		return nil, errBadPeerKey
	}
	shared := new(big.Int).Exp(y, k.private, dhPrime).FillBytes(make([]byte, dhPrimeLen))
	return hkdf.Key(sha256.New, shared, nil, "", aesKeyLen)
}

// encryptCBC encrypts plaintext under key with a fresh IV, padded as
// PKCS#7 says: 1 to 16 bytes, each holding the pad's length.
func encryptCBC(key, plaintext []byte, random io.Reader) (iv, ciphertext []byte, err error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, nil, err
	}
	iv = make([]byte, ivLen)
	if _, err := io.ReadFull(random, iv); err != nil {
		return nil, nil, err
	}
	pad := aes.BlockSize - len(plaintext)%aes.BlockSize
	buf := make([]byte, len(plaintext)+pad)
	copy(buf, plaintext)
	for i := len(plaintext); i < len(buf); i++ {
		buf[i] = byte(pad)
	}
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(buf, buf)
	return iv, buf, nil
}

// decryptCBC undoes encryptCBC; bad sizes or padding are errors, never a
// wrong secret.
func decryptCBC(key, iv, ciphertext []byte) ([]byte, error) {
	if len(iv) != ivLen {
		return nil, fmt.Errorf("secretservice: IV of %d bytes, want %d", len(iv), ivLen)
	}
	if len(ciphertext) == 0 || len(ciphertext)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("secretservice: ciphertext of %d bytes is no whole number of %d-byte blocks", len(ciphertext), aes.BlockSize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, len(ciphertext))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(buf, ciphertext)
	pad := int(buf[len(buf)-1])
	if pad == 0 || pad > aes.BlockSize {
		return nil, errors.New("secretservice: bad PKCS#7 padding")
	}
	want := make([]byte, pad)
	for i := range want {
		want[i] = byte(pad)
	}
	if subtle.ConstantTimeCompare(buf[len(buf)-pad:], want) != 1 {
		return nil, errors.New("secretservice: bad PKCS#7 padding")
	}
	return buf[:len(buf)-pad], nil
}
