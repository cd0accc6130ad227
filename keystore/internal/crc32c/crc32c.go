// Package crc32c is the CRC-32C (Castagnoli) checksum that package
// keystore and its journal put on what they cannot do without in clear:
// the wrapped data key, the Argon2 parameters, the key file's binding,
// the log's headers and records, a checkpoint's pages. It is
// hash/crc32's, with its hardware checksum behind it, set up only when
// something large enough to want it comes along.
//
// hash/crc32 sets up its SSE 4.2 CRC-32C on first use by running it over
// 3 MB of zeros to make its combining tables: 0.25 ms, about a tenth of a
// keyctl-go command that prints one key, which checksums only a few dozen
// bytes on its way (the log's header, the wrapped data key). Inputs of a
// page or less are checksummed a byte at a time, with a table made here,
// until a larger one has set the hardware checksum up; from then on it
// does everything. The checksums are the same either way.
package crc32c

import (
	"hash/crc32"
	"sync"
	"sync/atomic"
)

// Size is a checksum's size in bytes.
const Size = crc32.Size

// bytewiseMax is the largest input (bytes) checksummed a byte at a time
// while the hardware checksum is not set up: a page, about 5 µs so. The
// first larger input (a page of the store, a log record of some size)
// sets it up for good.
const bytewiseMax = 4096

// hardware is set once castagnoli has set up the hardware checksum.
var hardware atomic.Bool

// castagnoli is hash/crc32's CRC-32C table, which sets up its hardware
// checksum.
var castagnoli = sync.OnceValue(func() *crc32.Table {
	t := crc32.MakeTable(crc32.Castagnoli)
	hardware.Store(true)
	return t
})

// bytewise is the CRC-32C table of 256 entries, made here without
// hash/crc32's set-up: a Table that is not hash/crc32's own is used a
// byte at a time.
var bytewise = sync.OnceValue(func() *crc32.Table {
	t := new(crc32.Table)
	for i := range t {
		crc := uint32(i)
		for range 8 {
			if crc&1 == 1 {
				crc = crc>>1 ^ crc32.Castagnoli
			} else {
				crc >>= 1
			}
		}
		t[i] = crc
	}
	return t
})

// Update is the CRC-32C of p continuing from crc, as
// crc32.Update(crc, crc32.MakeTable(crc32.Castagnoli), p) is.
func Update(crc uint32, p []byte) uint32 {
	if len(p) <= bytewiseMax && !hardware.Load() {
		return crc32.Update(crc, bytewise(), p)
	}
	return crc32.Update(crc, castagnoli(), p)
}

// Checksum is the CRC-32C of p.
func Checksum(p []byte) uint32 { return Update(0, p) }

// HardwareSetUp reports whether the hardware checksum has been set up in
// this process: for tests that a path which checksums only small inputs
// does not pay for it.
func HardwareSetUp() bool { return hardware.Load() }
