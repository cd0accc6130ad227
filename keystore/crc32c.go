package keystore

import (
	"hash/crc32"
	"sync"
	"sync/atomic"
)

// crc32cBytewiseMax is the largest input (bytes) checksummed a byte at a
// time while the hardware checksum is not set up: a page, about 5 µs so.
// hash/crc32 sets up its SSE 4.2 checksum on first use by running it over
// 3 MB of zeros for its combining tables, 0.25 ms; opening a store checks
// a few dozen bytes (the log's header, the wrapped data key), which a
// command that only reads one key should not pay that for. The first
// larger input (a page, a log record of some size) sets it up for good.
const crc32cBytewiseMax = 4096

// crc32cHardware is set once castagnoli has set up the hardware checksum.
var crc32cHardware atomic.Bool

// castagnoli is CRC-32C, the checksum this package puts on the values the
// store cannot do without (the wrapped data key, the Argon2 parameters,
// the log's headers and records), with hash/crc32's hardware checksum
// behind it.
var castagnoli = sync.OnceValue(func() *crc32.Table {
	t := crc32.MakeTable(crc32.Castagnoli)
	crc32cHardware.Store(true)
	return t
})

// castagnoliBytewise is the CRC-32C table of 256 entries, made here
// without hash/crc32's set-up: a Table that is not hash/crc32's own is
// used a byte at a time.
var castagnoliBytewise = sync.OnceValue(func() *crc32.Table {
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

// crc32c is the CRC-32C of p, continuing from crc (0 to start), as
// crc32.Update(crc, crc32.MakeTable(crc32.Castagnoli), p) is.
func crc32c(crc uint32, p []byte) uint32 {
	if len(p) <= crc32cBytewiseMax && !crc32cHardware.Load() {
		return crc32.Update(crc, castagnoliBytewise(), p)
	}
	return crc32.Update(crc, castagnoli(), p)
}
