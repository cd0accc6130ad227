//go:build linux

package keystore

import (
	"bytes"
	"encoding/binary"

	bolt "go.etcd.io/bbolt"

	"github.com/keyctl-go/keyctl-go/keystore/internal/journal"
)

// Tx is written against rows: get, a cursor, put and delete over the
// buckets, the revision, rows for new keys, and what runs when a commit
// is visible and when it is durable. The seam is at rows rather than at
// Tx's methods (Key, PutLink, ...) so that the layout, the sealing, the
// hashed index and the derived buckets (orphans, expiry) are written once,
// and an engine holds exactly the bytes a file would.
//
// Two kinds of engine sit under it: the file (boltRows: bbolt and its
// journal), called directly, so that keys stay on the stack on the hot
// paths; and an Engine (engine.go), through its Rows, such as a store
// shared by hosts in etcd (package keystore/etcdstore). The methods below
// pick one.

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

func (r *boltRows) put(b journal.BucketID, k, v []byte) error { return r.j.Put(r.btx, b, k, v) }
func (r *boltRows) del(b journal.BucketID, k []byte) error    { return r.j.Delete(r.btx, b, k) }

// revision is the count of commits in meta; countRevision keeps it.
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
// that new keys are appended to the B+tree (serials.go); tookRow records
// that the transaction took the last one offered.
func (r *boltRows) offerRow() uint32 {
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
	return row
}

func (r *boltRows) tookRow(row uint32) error {
	r.offered = 0
	return r.put(idMeta, metaNextRow, u32(row+1))
}

// onFile reports whether tx is a transaction of the file.
func (tx *Tx) onFile() bool { return tx.bolt.btx != nil }

// get returns the value at k in bucket b, nil if there is none. It is
// valid until the transaction ends or next writes. An Engine is given a
// copy of k: through the interface k would escape to the heap, an
// allocation per read on the file's write path too.
func (tx *Tx) get(b journal.BucketID, k []byte) []byte {
	if tx.onFile() {
		return tx.bolt.get(b, k)
	}
	return tx.rows.Get(Bucket(b), bytes.Clone(k))
}

// getRow is the rows bucket's value at k.
func (tx *Tx) getRow(k []byte) []byte { return tx.get(idRows, k) }

// cursor walks bucket b in key order; seek positions it.
func (tx *Tx) cursor(b journal.BucketID) Cursor {
	if tx.onFile() {
		return tx.bolt.bucket(b).Cursor()
	}
	return tx.rows.Cursor(Bucket(b))
}

// seek is c.Seek(prefix), on the file called directly, so that prefix
// stays on the stack (get).
func seek(c Cursor, prefix []byte) ([]byte, []byte) {
	if bc, ok := c.(*bolt.Cursor); ok {
		return bc.Seek(prefix)
	}
	return c.Seek(bytes.Clone(prefix))
}

// put and del are the only writes a Tx makes. The engine makes them: the
// journal keeps each in the transaction's redo record, which it logs when
// the transaction commits; an Engine gets copies, as get's key.
func (tx *Tx) put(b journal.BucketID, k, v []byte) error {
	if tx.onFile() {
		return tx.bolt.put(b, k, v)
	}
	return tx.rows.Put(Bucket(b), bytes.Clone(k), bytes.Clone(v))
}

func (tx *Tx) del(b journal.BucketID, k []byte) error {
	if tx.onFile() {
		return tx.bolt.del(b, k)
	}
	return tx.rows.Delete(Bucket(b), bytes.Clone(k))
}

// writable reports whether tx is a write transaction.
func (tx *Tx) writable() bool {
	if tx.onFile() {
		return tx.bolt.btx.Writable()
	}
	return tx.write
}

// id tells transactions apart: Tx values made for one transaction of the
// file (bbolt's group commit runs several functions in one) share it.
func (tx *Tx) id() any {
	if tx.onFile() {
		return tx.bolt.btx
	}
	return tx
}

// onVisible runs fn when new readers see the commit. It never runs for a
// transaction that rolls back.
func (tx *Tx) onVisible(fn func()) {
	if tx.onFile() {
		tx.bolt.btx.OnCommit(fn)
		return
	}
	tx.visible = append(tx.visible, fn)
}

// OnCommit runs fn after the transaction commits and is durable, in the
// order registered, before Update returns. It never runs for a
// transaction that rolls back, or whose commit could not be made durable.
func (tx *Tx) OnCommit(fn func()) {
	if tx.onFile() {
		tx.bolt.j.OnCommit(fn)
		return
	}
	tx.durable = append(tx.durable, fn)
}
