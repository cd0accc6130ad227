//go:build linux

package journal

import (
	"errors"
	"fmt"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Opening for reading first (Options.DeferWrite).
//
// bbolt reads a file's whole freelist when it opens it for writing, and
// indexes it in maps: 3 to 4 ms for a million-key store with 34,000 free
// pages, most of what a CLI command that only reads costs. Opened
// read-only, it reads none of it. So with DeferWrite, Recover opens the
// file read-only when nothing needs writing to open the store (the log is
// clean, in this package's format, and names the store; the store needs
// no upgrade, Options.NeedsWrite), and the first write transaction of
// the DB closes it and opens it for writing, for good, before it begins.
// A process that never writes never pays for the freelist; one that does
// pays one extra open of the file.
//
// Nobody else can open the store meanwhile: the log's exclusive lock,
// taken by the opener first and held until Close, is what keeps other
// openers out (bbolt's lock on the file is shared while the file is
// read-only). Reads go on while the file is reopened: View holds swap for
// reading, the reopen for writing, so no read transaction is open on the
// read-only handle when the first write begins on the new one.
//
// Hence the caveats on DeferWrite. An Update called from inside a View
// waits for that View to end, for ever. And until the first write, a View
// must not wait for another goroutine's View, directly or through a lock
// held across a View: sync.RWMutex holds new readers back once the reopen
// waits, so the View waited for never begins. (keyring's Watch holds its
// store's mu across a View, and its transactions take that mu: a process
// that watches its own store and writes to it concurrently must not open
// it with DeferWrite. keyctl-go's commands watch only through a daemon.)
// A lock that let new readers in while the reopen waits would avoid that,
// but readers that keep overlapping would then hold the reopen off for
// ever, as TestDeferWriteReadersDuringTheReopen's do.

// deferrable reports whether the store at path, whose log reads as log,
// can be opened read-only: nothing needs writing to open it.
func deferrable(log *State, opts Options) bool {
	h := log.Header
	return opts.DeferWrite && log.HasHeader && log.Damage == nil &&
		h.Generation != 0 && h.Txid == 0 && h.Format == walFormat &&
		(h.Store != [16]byte{} || opts.Identify == nil)
}

// openForReading opens bbolt read-only on the file at path, mapped as
// openBolt maps it, without reading its freelist, if the store in it
// needs no write to open (opts.NeedsWrite). ok is false when the file is
// to be opened for writing instead: a file that is empty or missing is a
// new store, made by writing it, and one that bbolt cannot open so is
// opened as without DeferWrite, which says what is wrong with it. err is
// an error the caller reports: the file is held by another process.
func openForReading(path string, opts Options) (bdb *bolt.DB, mapSize int64, ok bool, err error) {
	st, err := os.Stat(path)
	if err != nil || st.Size() == 0 {
		return nil, 0, false, nil
	}
	bdb, mapSize, err = openBoltReadOnly(path, st.Size(), opts.LockTimeout)
	if errors.Is(err, ErrLocked) {
		return nil, 0, false, err // waiting again to open it for writing would wait twice
	}
	if err != nil {
		return nil, 0, false, nil
	}
	if opts.NeedsWrite != nil {
		needs := false
		if err := bdb.View(func(tx *bolt.Tx) error { needs = opts.NeedsWrite(tx); return nil }); err != nil || needs {
			bdb.Close()
			return nil, 0, false, nil
		}
	}
	return bdb, mapSize, true, nil
}

// openBoltReadOnly opens bbolt read-only on the file at path, of size
// bytes, mapped as openBolt maps it.
func openBoltReadOnly(path string, size int64, timeout time.Duration) (*bolt.DB, int64, error) {
	mapSize := mapSizeFor(size)
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{
		ReadOnly:        true,
		Timeout:         timeout,
		FreelistType:    bolt.FreelistMapType,
		InitialMmapSize: int(mapSize),
	})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, 0, errLocked("%s (waited %v)", path, timeout)
	}
	return bdb, mapSize, err
}

// ReadOnly reports whether the file is open read-only: with DeferWrite,
// until the first Update.
func (db *DB) ReadOnly() bool {
	db.swap.RLock()
	defer db.swap.RUnlock()
	return db.bolt != nil && db.bolt.IsReadOnly()
}

// View runs fn in a read transaction of bbolt's. While the file is open
// read-only, it holds the swap for reading, so that the first write does
// not reopen the file under it.
func (db *DB) View(fn func(*bolt.Tx) error) error {
	if db.deferred.Load() {
		db.swap.RLock()
		defer db.swap.RUnlock()
		if db.bolt == nil {
			return db.lost
		}
	}
	return db.bolt.View(fn)
}

// forWriting swaps the read-only file for one open for writing, once,
// before the first write transaction begins. It runs in the committer's
// lead, the only writer. If the file cannot be opened for writing, the
// write fails with the reason and the read-only file is opened again for
// the readers; failing that too, every later call fails.
func (db *DB) forWriting() error {
	if !db.deferred.Load() {
		return nil
	}
	db.swap.Lock()
	defer db.swap.Unlock()
	if db.bolt == nil {
		return db.lost
	}
	path := db.j.path
	if err := db.bolt.Close(); err != nil {
		return db.reopenLost(fmt.Errorf("journal: closing %s to reopen it for writing: %w", path, err))
	}
	bdb, mapSize, err := openBolt(path, db.lockTimeout)
	if err != nil {
		return db.reopenLost(err)
	}
	db.setBolt(bdb, mapSize)
	db.deferred.Store(false)
	return nil
}

// reopenLost opens the read-only file again for the readers after
// reopening it for writing failed with err, which it returns; if that
// fails too, every later call fails. Called with swap held.
func (db *DB) reopenLost(err error) error {
	path := db.j.path
	var bdb *bolt.DB
	var mapSize int64
	st, rerr := os.Stat(path)
	if rerr == nil {
		bdb, mapSize, rerr = openBoltReadOnly(path, st.Size(), db.lockTimeout)
	}
	if rerr != nil {
		db.lost = fmt.Errorf("journal: %s could be opened neither for writing (%v) nor for reading again: %w", path, err, rerr)
		db.setBolt(nil, 0)
		return db.lost
	}
	db.setBolt(bdb, mapSize)
	return err
}

// setBolt makes bdb, mapped mapSize bytes, the file that reads, writes
// and the journal use.
func (db *DB) setBolt(bdb *bolt.DB, mapSize int64) {
	db.bolt, db.commit.db, db.j.bolt = bdb, bdb, bdb
	if bdb != nil {
		db.j.mapSize = mapSize
	}
}
