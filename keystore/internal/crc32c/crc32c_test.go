package crc32c

import (
	"hash/crc32"
	"math/rand/v2"
	"testing"
)

// Update is hash/crc32's CRC-32C for every length on both sides of the
// bytewise limit, before and after the hardware checksum is set up, and
// continuing from any value.
func TestIsCastagnoli(t *testing.T) {
	ref := crc32.MakeTable(crc32.Castagnoli)
	rng := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, 3*bytewiseMax)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	check := func(when string) {
		for _, n := range []int{0, 1, 7, 36, 77, bytewiseMax - 1, bytewiseMax, bytewiseMax + 1, 3 * bytewiseMax} {
			seed := rng.Uint32()
			if got, want := Update(seed, b[:n]), crc32.Update(seed, ref, b[:n]); got != want {
				t.Errorf("%s: Update(%#x, %d bytes) = %#x, want %#x", when, seed, n, got, want)
			}
		}
		for n := range 600 {
			if got, want := Checksum(b[:n]), crc32.Checksum(b[:n], ref); got != want {
				t.Fatalf("%s: Checksum of %d bytes = %#x, want %#x", when, n, got, want)
			}
		}
	}
	if HardwareSetUp() {
		t.Fatal("the hardware checksum is set up before anything larger than a page was checksummed")
	}
	check("bytewise")
	Checksum(b[:bytewiseMax+1])
	if !HardwareSetUp() {
		t.Fatal("a checksum of more than a page did not set up the hardware checksum")
	}
	check("hardware")
}
