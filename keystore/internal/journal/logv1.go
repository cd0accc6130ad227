//go:build linux

package journal

import (
	"encoding/binary"

	"github.com/keyctl-go/keyctl-go/keystore/internal/crc32c"
)

// Format 1 of the write-ahead log, which schema 4 wrote. It is read once,
// when a schema-4 store is opened: recovery replays its records and
// writes a clean format-1 header, so that a schema-4 program, should the
// upgrade not finish, finds nothing to recover and opens its store as it
// is. The upgrade to schema 6 then empties the log (Log.erase), and
// the journal starts format 2.
//
// Its header is format 2's with "kgwal\x00\x00\x01" for magic. A record:
//
//	0  4  u32 body length
//	4  4  u32 CRC-32C of the generation (8 bytes) and the body
//	8  …  body
//
// A format-1 record says nothing of what was synced, so its reader cannot
// tell damage from a torn write: it stops at the first record that does
// not check, as schema 4 did.

const walRecordHeadV1 = 8

// splitWALRecordsV1 cuts area into the bodies of generation gen's
// format-1 records, stopping at the first that does not check, and says
// how many bytes they took.
func splitWALRecordsV1(area []byte, gen uint64) (bodies [][]byte, used int) {
	var g [8]byte
	binary.LittleEndian.PutUint64(g[:], gen)
	seed := crc32c.Checksum(g[:])
	for len(area)-used >= walRecordHeadV1 {
		n := binary.LittleEndian.Uint32(area[used:])
		if n == 0 || uint64(n) > uint64(len(area)-used-walRecordHeadV1) {
			break
		}
		body := area[used+walRecordHeadV1 : used+walRecordHeadV1+int(n)]
		if crc32c.Update(seed, body) != binary.LittleEndian.Uint32(area[used+4:]) {
			break
		}
		bodies = append(bodies, body)
		used += walRecordHeadV1 + int(n)
	}
	return bodies, used
}
