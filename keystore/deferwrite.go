package keystore

import (
	"fmt"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Opening for reading first (Options.DeferWrite).
//
// bbolt reads a file's whole freelist when it opens it for writing, and
// indexes it in maps: 3 to 4 ms for a million-key store with 34,000 free
// pages, most of what a CLI command that only reads costs. Opened
// read-only, it reads none of it. So with DeferWrite, Open opens the file
// read-only when nothing needs writing at open (the log is clean, the
// schema current), and the first write transaction closes it and opens it
// for writing, for good, before it begins. A process that never writes
// never pays for the freelist; one that does pays one extra open of the
// file.
//
// Nobody else can open the store meanwhile: the log's exclusive lock,
// taken first and held until Close, is what keeps other openers out
// (bbolt's lock on the file is shared while the file is read-only). Reads
// go on while the file is reopened: View holds swap for reading, the
// reopen for writing, so no read transaction is open on the read-only
// handle when the first write begins on the new one. Hence the caveat on
// DeferWrite: an Update called from inside a View would wait for that
// View to end.

// openDeferred opens the store's file read-only if opts ask for it and
// nothing needs writing to open the store; deferred says whether it did.
// Otherwise the caller opens it as usual, which reports any error.
func openDeferred(path string, w *walFile, log *walState, timeout time.Duration, opts Options) (bdb *bolt.DB, mapSize int64, deferred bool) {
	if !opts.DeferWrite || !log.hasHeader || log.header.Txid != 0 || log.damage != nil || w.header.Generation == 0 {
		return nil, 0, false
	}
	bdb, mapSize, err := openBoltReadOnly(path, timeout)
	return bdb, mapSize, err == nil
}

// openBoltReadOnly opens bbolt read-only on the file at path, mapped as
// openBolt maps it, without reading its freelist.
func openBoltReadOnly(path string, timeout time.Duration) (*bolt.DB, int64, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, 0, err
	}
	if st.Size() == 0 {
		return nil, 0, fmt.Errorf("keystore: %s is empty", path) // a new store is made by writing it
	}
	mapSize := mapSizeFor(st.Size())
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{
		ReadOnly:        true,
		Timeout:         timeout,
		FreelistType:    bolt.FreelistMapType,
		InitialMmapSize: int(mapSize),
	})
	return bdb, mapSize, err
}

// reopenForWriting swaps the read-only file for one open for writing,
// once, before the first write transaction begins. It runs in the
// committer's lead, the only writer. If the file cannot be opened for
// writing, the write fails with the reason and the read-only file is
// opened again for the readers; failing that too, every later call fails.
func (db *DB) reopenForWriting() error {
	if !db.deferred.Load() {
		return nil
	}
	db.swap.Lock()
	defer db.swap.Unlock()
	if db.bolt == nil {
		return db.reopenErr
	}
	if err := db.bolt.Close(); err != nil {
		return db.lost(fmt.Errorf("keystore: closing %s to reopen it for writing: %w", db.path, err))
	}
	bdb, _, err := openBolt(db.path, db.lockTimeout)
	if err != nil {
		return db.lost(err)
	}
	db.setBolt(bdb)
	db.deferred.Store(false)
	return nil
}

// lost opens the read-only file again for the readers after reopening it
// for writing failed with err, which it returns; if that fails too, every
// later call fails. Called with swap held.
func (db *DB) lost(err error) error {
	bdb, _, rerr := openBoltReadOnly(db.path, db.lockTimeout)
	if rerr != nil {
		db.reopenErr = fmt.Errorf("keystore: %s could be opened neither for writing (%v) nor for reading again: %w", db.path, err, rerr)
		db.setBolt(nil)
		return db.reopenErr
	}
	db.setBolt(bdb)
	return err
}

// setBolt makes bdb the file that reads, writes and the journal use.
func (db *DB) setBolt(bdb *bolt.DB) {
	db.bolt, db.commit.db, db.journal.bolt = bdb, bdb, bdb
}
