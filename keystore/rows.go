//go:build linux

package keystore

import (
	"bytes"
	"encoding/binary"

	bolt "go.etcd.io/bbolt"

	"github.com/keyctl-go/keyctl-go/keystore/internal/journal"
)

// rows is the storage boundary: one transaction of an engine over the
// store's buckets, in terms of rows (a bucket, a key, a value) and
// nothing of what they mean. Tx is written against it, and so is every
// rule above Tx; an engine is a place to keep rows and a way to commit
// them. Two engines implement it: boltRows, a transaction of the bbolt
// file and its journal (one host), and etcdRows, a transaction over the
// rows of a store kept in etcd (many hosts, etcd.go).
//
// The seam is at rows rather than at Tx's methods (Key, PutLink, ...)
// because the layout, the sealing, the hashed index and the derived
// buckets (orphans, expiry) are then written once, and a store in etcd
// holds exactly the bytes a file would: nothing in clear that the file
// does not hold in clear.
//
// Three things are not rows, because an engine shared by hosts must do
// them its own way: the revision (a file counts its commits in a meta row;
// etcd has a revision of its own, and a counter every commit writes would
// make every two commits conflict), serial allocation (a file keeps the
// next row in meta; hosts take blocks of rows), and when a commit is
// visible and when it is durable.
type rows interface {
	// id tells transactions apart: Tx values made for one transaction
	// (bbolt's group commit runs several functions in one) share it.
	id() any
	writable() bool
	// get returns the value at k in bucket b, nil if there is none. It is
	// valid until the transaction ends or next writes.
	get(b journal.BucketID, k []byte) []byte
	// cursor walks bucket b in key order. A transaction that walks a
	// range Seeks to the range's prefix and stops where it ends.
	cursor(b journal.BucketID) rowCursor
	put(b journal.BucketID, k, v []byte) error
	del(b journal.BucketID, k []byte) error
	// revision is the store's revision as this transaction sees it.
	revision() uint64
	// countRevision records that this transaction makes revision rev,
	// where the engine counts revisions in rows.
	countRevision(rev uint64) error
	// offerRow offers a row for a new key, the next one each call, never
	// one offered to another transaction of any host; tookRow says the
	// transaction took the last one offered.
	offerRow() (uint32, error)
	tookRow(row uint32) error
	// onVisible runs fn when new readers see the commit; onDurable once it
	// is durable (Tx.OnCommit). Neither runs for a transaction that rolls
	// back.
	onVisible(fn func())
	onDurable(fn func())
}

// boltRows is a transaction of the bbolt file, written through the
// journal, which logs each put and delete in the commit's redo record.
type boltRows struct {
	btx     *bolt.Tx
	offered uint32 // the row offerRow offered last; 0 before
	j       *journal.DB
	// rowsCursor serves every point read of the rows bucket. bbolt's
	// Bucket.Get makes a cursor per call, and growing its stack was over
	// half of all allocations on the write path.
	rowsCursor *bolt.Cursor
}

// rowCursor walks a bucket in key order, as bbolt's Cursor does: Seek
// positions at the first key at or after seek, Next moves on; a nil key
// is the end.
type rowCursor interface {
	Seek(seek []byte) (k, v []byte)
	Next() (k, v []byte)
}

func (r *boltRows) id() any        { return r.btx }
func (r *boltRows) writable() bool { return r.btx.Writable() }

func (r *boltRows) bucket(b journal.BucketID) *bolt.Bucket { return r.btx.Bucket(allBuckets[b]) }

func (r *boltRows) get(b journal.BucketID, k []byte) []byte {
	if b != idRows {
		return r.bucket(b).Get(k)
	}
	if r.rowsCursor == nil {
		r.rowsCursor = r.bucket(idRows).Cursor()
	}
	key, v := r.rowsCursor.Seek(k)
	if !bytes.Equal(key, k) {
		return nil
	}
	return v
}

func (r *boltRows) cursor(b journal.BucketID) rowCursor { return r.bucket(b).Cursor() }

func (r *boltRows) put(b journal.BucketID, k, v []byte) error { return r.j.Put(r.btx, b, k, v) }
func (r *boltRows) del(b journal.BucketID, k []byte) error    { return r.j.Delete(r.btx, b, k) }

func (r *boltRows) revision() uint64 {
	v := r.bucket(idMeta).Get(metaRevision)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

func (r *boltRows) countRevision(rev uint64) error {
	return r.put(idMeta, metaRevision, binary.BigEndian.AppendUint64(nil, rev))
}

// offerRow offers rows in order from the one after the last taken, so
// that new keys are appended to the B+tree (serials.go).
func (r *boltRows) offerRow() (uint32, error) {
	row := r.offered + 1
	if r.offered == 0 {
		row = MinSerial
		if v := r.bucket(idMeta).Get(metaNextRow); len(v) == 4 {
			row = binary.BigEndian.Uint32(v)
		}
	}
	if !inSerialRange(row) {
		row = MinSerial
	}
	r.offered = row
	return row, nil
}

func (r *boltRows) tookRow(row uint32) error {
	r.offered = 0
	return r.put(idMeta, metaNextRow, u32(row+1))
}

func (r *boltRows) onVisible(fn func()) { r.btx.OnCommit(fn) }
func (r *boltRows) onDurable(fn func()) { r.j.OnCommit(fn) }
