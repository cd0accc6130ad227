//go:build linux

package journal

import (
	"encoding/binary"
	"hash/fnv"
	"io"
	"os"

	"github.com/keyctl-go/keyctl-go/keystore/internal/crc32c"
)

// What the journal knows of bbolt's file format, which bbolt does not
// export: the meta page. A checkpoint copies the head of one into the
// log's header, and recovery writes it back into both of the file's meta
// slots, so that bbolt opens the checkpoint's state (db.go, recover.go).
// Everything this package reads or writes of bbolt's file goes through
// this file; TestBoltMetaPageLayout reads a fresh file made by the bbolt
// in go.mod through these constants, and fails the day bbolt changes
// them.
//
// The two meta pages are pages 0 and 1; transaction t writes page t%2.
// A meta page is a page header, then the meta, in the machine's byte
// order (go.etcd.io/bbolt/internal/common, page.go and meta.go):
//
//	page header  0  8  page id (0 or 1)
//	             8  2  flags: 0x04, a meta page
//	            10  2  count; 12  4  overflow
//	meta        16  4  magic 0xED0CDAED
//	            20  4  version, 2
//	            24  4  page size, bytes
//	            28  4  flags
//	            32  8  root bucket's page; 40  8  its sequence
//	            48  8  freelist page, or all ones for none
//	            56  8  high water: the first page id past the file's pages
//	            64  8  transaction id
//	            72  8  FNV-64a of bytes 16..72
//
// The rest of the page is zeros.

// metaHeadLen is how much of a bbolt meta page holds anything, in bytes:
// the page header (16) and the meta (64).
const metaHeadLen = 80

const (
	boltMagic        = 0xED0CDAED
	boltVersion      = 2
	boltMetaPageFlag = 0x04 // in the page header's flags

	boltFlagsAt       = 8 // the page header's flags, u16
	boltMetaAt        = 16
	boltPageSizeAt    = boltMetaAt + 8
	boltRootAt        = boltMetaAt + 16
	boltFreelistAt    = boltMetaAt + 32
	boltHighWaterAt   = boltMetaAt + 40
	boltTxidAt        = boltMetaAt + 48
	boltChecksumAt    = boltMetaAt + 56
	boltNoFreelist    = ^uint64(0) // the freelist page id when bbolt keeps none on disk
	boltMetaPageCount = 2          // the meta pages are pages 0 and 1
)

// parseMetaHead checks the head of a bbolt meta page and returns its
// transaction id and page size.
func parseMetaHead(b []byte) (txid uint64, pageSize int, ok bool) {
	if len(b) < metaHeadLen {
		return 0, 0, false
	}
	ne := binary.NativeEndian
	if ne.Uint32(b[boltMetaAt:]) != boltMagic || ne.Uint32(b[boltMetaAt+4:]) != boltVersion {
		return 0, 0, false
	}
	h := fnv.New64a()
	h.Write(b[boltMetaAt:boltChecksumAt])
	if h.Sum64() != ne.Uint64(b[boltChecksumAt:]) {
		return 0, 0, false
	}
	return ne.Uint64(b[boltTxidAt:]), int(ne.Uint32(b[boltPageSizeAt:])), true
}

// metaInSlot is head, a meta page head, as the meta page of slot (0 or
// 1): the page id is the slot.
func metaInSlot(head []byte, slot int) []byte {
	page := append([]byte(nil), head...)
	binary.NativeEndian.PutUint64(page, uint64(slot))
	return page
}

// readMetaHeads reads the heads of both meta pages of the database file f,
// the second at pageSize.
func readMetaHeads(f *os.File, pageSize int) (heads [boltMetaPageCount][]byte, err error) {
	for i := range heads {
		heads[i] = make([]byte, metaHeadLen)
		if _, err := f.ReadAt(heads[i], int64(i*pageSize)); err != nil && err != io.EOF {
			return heads, err
		}
	}
	return heads, nil
}

// checkpointSums are the checksums of the root and freelist pages that
// the meta page head points to, read from the database file f.
func checkpointSums(f *os.File, head []byte, pageSize int) (root, freelist uint32, err error) {
	sum := func(at []byte) (uint32, error) {
		pgid := binary.NativeEndian.Uint64(at)
		if pgid == boltNoFreelist {
			return 0, nil
		}
		page := make([]byte, pageSize)
		if _, err := f.ReadAt(page, int64(pgid)*int64(pageSize)); err != nil && err != io.EOF {
			return 0, err
		} // past the end: zeros, which match no checkpoint's page

		return crc32c.Checksum(page), nil
	}
	if root, err = sum(head[boltRootAt:]); err != nil {
		return 0, 0, err
	}
	freelist, err = sum(head[boltFreelistAt:])
	return root, freelist, err
}
