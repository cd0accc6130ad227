//go:build linux

package keystore

import (
	"context"

	"github.com/keyctl-go/keyctl-go/keystore/internal/journal"
)

// The engine interface: what a store kept somewhere other than a bbolt
// file implements (Options.Engine), and all that keystore asks of it.
// Package keystore/etcdstore keeps a store in etcd, shared by hosts; the
// file is the engine built in (rows.go).
//
// An engine keeps rows: a bucket, a key and a value, in the layout that
// SchemaVersion documents, byte for byte what the file holds. What the
// rows mean (records, links, the index, quota, orphans, expiry, the
// store's meta rows, sealing) is written by Tx, above the engine, once
// for every engine, so that an engine holds nothing in clear that the
// file does not. Three things are the engine's own: the revision, the
// rows for new keys, and when a commit is made.
//
// An engine is taken to be shared by several openers (hosts): a commit
// carries its notifications (Rows.PutEvents), and every opener, the
// writer too, hears of every commit through its Feed, in revision order.

// Engine is an open engine, as Options.Engine's function returns it.
type Engine interface {
	// View runs fn on the rows as of one revision. fn may call View
	// again, and may be called while an Update's fn runs.
	View(fn func(Rows) error) error
	// Update runs fn on a transaction that sees the rows as of one
	// revision and keeps its writes, then commits those writes
	// atomically, guarded by what fn read: if another opener changed
	// any of it meanwhile, fn runs again on the newer rows. It returns
	// once the commit is made, or fn's error, and when fn made one, once
	// the Feed has been told of it (Feed.Commit and Feed.Posted have
	// returned). Once fn has run, the outcome is waited for whatever ctx
	// says: an error then may leave the outcome unknown, and says so.
	// keystore calls Update one at a time.
	Update(ctx context.Context, fn func(Rows) error) error
	// Sync returns once View sees every commit any opener had made when
	// Sync was called, and the Feed has been told of them.
	Sync(ctx context.Context) error
	// Close stops the engine: the Feed hears no more.
	Close() error
	// String names the store in messages, as a file's path does.
	String() string
}

// Rows is one transaction of an engine over the store's buckets. Keys
// and values passed in are the engine's to keep; values returned are
// valid until the transaction ends or next writes.
type Rows interface {
	// Get returns the value at k in bucket b, nil if there is none (an
	// empty value is not nil).
	Get(b Bucket, k []byte) []byte
	// Cursor walks bucket b in key order, the transaction's own writes
	// included. Tx Seeks to the first key of a range (RangeOf) and
	// stops where the range ends.
	Cursor(b Bucket) Cursor
	Put(b Bucket, k, v []byte) error
	Delete(b Bucket, k []byte) error
	// Revision is the revision of the rows the transaction sees, which
	// the engine counts its own way.
	Revision() uint64
	// NewRow returns a row for a new key, never one that any opener was
	// given before, until the rows (MinSerial to MaxSerial) wrap around.
	NewRow() (uint32, error)
	// PutEvents puts sealed, the notifications of this transaction,
	// into its commit, for every opener's Feed.Posted.
	PutEvents(sealed []byte)
}

// Cursor walks a bucket in key order: Seek positions at the first key at
// or after seek (nil: the first), Next moves on; a nil key is the end.
type Cursor interface {
	Seek(seek []byte) (k, v []byte)
	Next() (k, v []byte)
}

// Bucket names a bucket of the layout (SchemaVersion) to an engine: its
// number in the write-ahead log's redo records, which never changes.
type Bucket uint8

// The buckets.
const (
	BucketMeta    = Bucket(idMeta)
	BucketRows    = Bucket(idRows)
	BucketNames   = Bucket(idNames)
	BucketQuota   = Bucket(idQuota)
	BucketOrphans = Bucket(idOrphans)
	BucketExpiry  = Bucket(idExpiry)
)

// NumBuckets is how many buckets there are, numbered from 0.
const NumBuckets = int(BucketExpiry) + 1

// RangeOf is the range that k, a key of bucket b, falls in among those a
// transaction walks (a Seek to the range's first key, Nexts to its end):
// a keyring's links, its index, or a key's parents (prefixes of a row of
// the rows bucket), or the whole orphans or expiry bucket (prefix nil).
// ok is false for a key that no walk covers, which is only ever read by
// Get, and for the rows bucket's prefixes shorter than a range's (Check
// walks whole buckets).
//
// An engine that guards a transaction by what it read cannot guard a
// walk key by key, since a key deleted meanwhile leaves nothing to
// compare: it guards the range, and every write of a key in the range
// must change that guard.
func RangeOf(b Bucket, k []byte) (prefix []byte, ok bool) {
	switch journal.BucketID(b) {
	case idRows:
		if len(k) >= 5 && (k[4] == tagLink || k[4] == tagIndex || k[4] == tagParent) {
			return k[:5], true
		}
	case idOrphans, idExpiry:
		return nil, true
	}
	return nil, false
}
