//go:build linux

package journal

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"
)

// Options say what the journal needs to know of the database it keeps.
// Recover and New take the same Options.
type Options struct {
	// Buckets name the buckets that redo records address by position
	// (BucketID): part of the log's format, so append to it, never
	// reorder.
	Buckets [][]byte
	// Identify reads the store's UUID from a transaction, or uuid.Nil for
	// a store that has none (new, or not yet upgraded to have one). The
	// log's header carries it, and a log of one store is refused beside
	// another's file. nil: the log names no store.
	Identify func(*bolt.Tx) uuid.UUID
	// LockTimeout is how long Recover waits for another process holding
	// the database file.
	LockTimeout time.Duration
	// AfterTx runs after every write transaction, committed or rolled
	// back, in the goroutine that ran it (the batch's leader).
	AfterTx func()
	// Growth is how far the file may grow past its size at the last
	// checkpoint before the next checkpoint (bytes); 0 means walGrowth.
	Growth int64
	// DeferWrite has Recover open the file read-only when nothing needs
	// writing to open the store, and the DB open it for writing at its
	// first Update (deferwrite.go): for a process that may well only
	// read. An Update must then not be called from inside a View, which
	// it would wait for, nor may a View wait for another goroutine's
	// View before the first Update (deferwrite.go).
	DeferWrite bool
	// NeedsWrite reports whether opening the store writes to it (an old
	// schema to upgrade), so that DeferWrite opens such a file for
	// writing at once. nil: opening never writes.
	NeedsWrite func(*bolt.Tx) bool
}

// DB is bbolt run through the journal: bbolt commits without syncing,
// and a commit is durable once its redo record is in the fsynced log
// (see the package doc). Read transactions go to bbolt through View,
// which knows which file to read while DeferWrite swaps it; write
// transactions go through Update, and every write in them through Put
// and Delete, so that the log holds what the file does.
type DB struct {
	bolt    *bolt.DB
	buckets [][]byte
	j       *journal
	commit  *committer

	// While deferred is set, bolt is open read-only, until the first
	// Update reopens it (deferwrite.go). swap guards the reopen; lost
	// says why bolt is nil, if it is.
	deferred    atomic.Bool
	swap        sync.RWMutex
	lost        error
	lockTimeout time.Duration
}

// New takes over the log w for bdb, as Recover returned it with mapSize,
// once bbolt has committed, synced, whatever the opener wrote (creating
// or upgrading the store). The DB owns bdb and w from then on: Close
// closes both.
func New(bdb *bolt.DB, mapSize int64, w *Log, opts Options) (*DB, error) {
	var store uuid.UUID
	if opts.Identify != nil {
		var err error
		if store, err = identify(bdb, opts.Identify); err != nil {
			return nil, err
		}
	}
	growth := opts.Growth
	if growth == 0 {
		growth = walGrowth
	}
	j, err := newJournal(bdb, w, mapSize, store, growth)
	if err != nil {
		return nil, err
	}
	afterTx := opts.AfterTx
	if afterTx == nil {
		afterTx = func() {}
	}
	db := &DB{bolt: bdb, buckets: opts.Buckets, j: j, commit: newCommitter(bdb, j, afterTx), lockTimeout: opts.LockTimeout}
	if bdb.IsReadOnly() { // Recover deferred opening it for writing
		db.deferred.Store(true)
		db.commit.beforeWrite = db.forWriting
	}
	return db, nil
}

// Update runs fn in a write transaction and returns once its changes are
// durable or have failed; see committer for how concurrent Updates share
// a transaction and an fsync. ctx bounds only the wait to be taken up.
// After Close it fails with ErrClosed.
func (db *DB) Update(ctx context.Context, fn func(*bolt.Tx) error) error {
	return db.commit.do(ctx, fn)
}

// Put sets bucket[k] = v in tx, a transaction of Update, and keeps the
// write in the transaction's redo record.
func (db *DB) Put(tx *bolt.Tx, bucket BucketID, k, v []byte) error {
	if err := tx.Bucket(db.buckets[bucket]).Put(k, v); err != nil {
		return err
	}
	db.j.redo = appendRedoPut(db.j.redo, bucket, k, v)
	return nil
}

// Delete deletes bucket[k] in tx, a transaction of Update, and keeps the
// write in the transaction's redo record.
func (db *DB) Delete(tx *bolt.Tx, bucket BucketID, k []byte) error {
	if err := tx.Bucket(db.buckets[bucket]).Delete(k); err != nil {
		return err
	}
	db.j.redo = appendRedoDelete(db.j.redo, bucket, k)
	return nil
}

// OnCommit runs fn after the current transaction of Update commits and
// is durable, in the order registered, before Update returns. It never
// runs for a transaction that rolls back, or whose commit could not be
// made durable.
func (db *DB) OnCommit(fn func()) {
	db.j.hooks = append(db.j.hooks, fn)
}

// Close lets queued Updates finish, leaves the journal so that the file
// holds everything and the log says there is nothing to recover, and
// closes the log and bbolt.
func (db *DB) Close() error {
	db.commit.close()
	err := db.j.close()
	if db.bolt == nil { // lost reopening it (deferwrite.go)
		err = errors.Join(err, db.lost)
	} else if cerr := db.bolt.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("journal: closing %s: %w", db.j.path, err)
	}
	return nil
}
