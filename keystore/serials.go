//go:build linux

package keystore

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
)

// Serials and rows.
//
// A key's serial is what every caller sees: random-looking, in
// [MinSerial, MaxSerial], as the kernel's are. Where the key is kept in
// the file is its row, and rows are handed out by a counter. The two are
// tied by a permutation of [MinSerial, MaxSerial] keyed by a secret the
// store draws once: serial = permute(row), row = unpermute(serial).
//
// Why: bbolt keeps keys in a B+tree ordered by key bytes. Stored under
// random serials, every new key lands on a random leaf, so a commit of 64
// new keys rewrites about 64 leaves (measured: 46 µs per key against 16 µs
// when they are appended). Stored under rows, new keys are appended, and a
// batch of them shares a few leaves; the permutation keeps serials as
// unpredictable as random draws, unique by construction, and needs no
// serial-to-row index.

// serialKeyLen is the length of the permutation's key, in bytes.
const serialKeyLen = 16

// feistelRounds is how many rounds the permutation runs: six rounds of a
// balanced Feistel network make a good pseudo-random permutation from a
// good round function, and cost about 30 ns.
const feistelRounds = 6

// serialPermutation is a keyed bijection on [MinSerial, MaxSerial]: a
// balanced Feistel network on 32 bits, with cycle walking to stay inside
// the range (about two passes on average, as half of 2^32 is in range).
type serialPermutation struct {
	round [feistelRounds]uint64
}

func newSerialPermutation(key []byte) (*serialPermutation, error) {
	if len(key) != serialKeyLen {
		return nil, fmt.Errorf("%w: serial permutation key is %d bytes, want %d", ErrCorrupt, len(key), serialKeyLen)
	}
	var p serialPermutation
	k0, k1 := binary.BigEndian.Uint64(key), binary.BigEndian.Uint64(key[8:])
	for i := range p.round {
		// Distinct round keys from the one secret.
		p.round[i] = mix64(k0 ^ mix64(k1+uint64(i)*0x9e3779b97f4a7c15))
	}
	return &p, nil
}

// newSerialKey draws a permutation key.
func newSerialKey() []byte {
	k := make([]byte, serialKeyLen)
	rand.Read(k)
	return k
}

// mix64 is SplitMix64's finaliser: every input bit affects every output
// bit, which is what a Feistel round function needs.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

func (p *serialPermutation) f(i int, half uint32) uint32 {
	return uint32(mix64(p.round[i]^uint64(half)) >> 48)
}

func (p *serialPermutation) forward32(x uint32) uint32 {
	l, r := x>>16, x&0xffff
	for i := range p.round {
		l, r = r, l^p.f(i, r)
	}
	return l<<16 | r
}

func (p *serialPermutation) backward32(x uint32) uint32 {
	l, r := x>>16, x&0xffff
	for i := len(p.round) - 1; i >= 0; i-- {
		l, r = r^p.f(i, l), l
	}
	return l<<16 | r
}

func inSerialRange(x uint32) bool { return x >= MinSerial && x <= MaxSerial }

// serial is the serial of row; row must be in [MinSerial, MaxSerial].
func (p *serialPermutation) serial(row uint32) uint32 {
	x := p.forward32(row)
	for !inSerialRange(x) {
		x = p.forward32(x)
	}
	return x
}

// row is the row of serial; serial must be in [MinSerial, MaxSerial].
func (p *serialPermutation) row(serial uint32) uint32 {
	x := p.backward32(serial)
	for !inSerialRange(x) {
		x = p.backward32(x)
	}
	return x
}
