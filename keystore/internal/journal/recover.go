//go:build linux

package journal

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime/debug"
	"time"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Recover brings the database file at path to the state its log w
// describes, whose contents were read as log (which must not be corrupt:
// the caller refuses it first, with State.Refusal, or has chosen to keep
// only its intact records, as a repair does), and returns bbolt open on
// it, mapped mapSize bytes, for New. It puts back the log's checkpoint,
// replays the records onto it in one transaction committed and synced by
// bbolt itself, and then writes a clean header, in the log's own format:
// the replay's commit, or any after it, may reuse the checkpoint's pages,
// so the checkpoint must never be restored again. A damaged log gets a
// clean header too, newer than any it holds, so that what follows the
// damage is never read again.
//
// A log that names a store (format 3) beside a database file that
// opts.Identify says is another is refused with ErrCorrupt naming both
// files and both stores, before anything is written; so is a log whose
// checkpoint is not in the file. A log beside no database means nothing:
// the file is created as bbolt creates it, and the log starts afresh.
//
// With opts.DeferWrite, a store that needs nothing written to open it is
// returned open read-only, and New's DB opens it for writing at its
// first Update (deferwrite.go).
func Recover(path string, w *Log, log *State, opts Options) (bdb *bolt.DB, mapSize int64, err error) {
	exists := false
	if log.Header.Txid != 0 {
		var why string
		exists, why, err = restoreCheckpoint(path, log.Header)
		if why != "" {
			return nil, 0, foreignLog(w.path, path, log.Header.Store, peekIdentity(path, opts), why)
		}
		if err != nil {
			return nil, 0, fmt.Errorf("recovering from %s: %w", w.path, err)
		}
	}
	deferred := false
	if deferrable(log, opts) {
		if bdb, mapSize, deferred, err = openForReading(path, opts); err != nil {
			return nil, 0, err
		}
	}
	if !deferred {
		if bdb, mapSize, err = openBolt(path, opts.LockTimeout); err != nil {
			return nil, 0, err
		}
	}
	if log.Header.Store != uuid.Nil && opts.Identify != nil {
		store, err := identify(bdb, opts.Identify)
		if err == nil && store != uuid.Nil && store != log.Header.Store {
			err = foreignLog(w.path, path, log.Header.Store, store, "the stores differ")
		}
		if err != nil {
			bdb.Close()
			return nil, 0, err
		}
	}
	if log.Header.Txid == 0 && log.Damage == nil {
		return bdb, mapSize, nil
	}
	if exists {
		err = replay(bdb, log.bodies(), opts.Buckets)
	}
	if err == nil {
		err = bdb.Sync()
	}
	if err == nil {
		format := log.Header.Format
		if format == 0 {
			format = walFormat // no header in force, only a damaged one
		}
		err = w.writeHeader(Header{
			Format: format, Generation: log.newest + 1,
			PageSize: bdb.Info().PageSize, Meta: make([]byte, metaHeadLen), Store: log.Header.Store,
		})
	}
	if err != nil {
		bdb.Close()
		return nil, 0, err
	}
	return bdb, mapSize, nil
}

// restoreCheckpoint puts the checkpoint's meta page back into the
// database file at path, in both slots, so that bbolt opens the
// checkpoint's state. It does nothing when the file is at the checkpoint
// already, or does not exist (a store deleted since: its log means
// nothing). A file behind the checkpoint, or at it with another meta page
// or other pages, was not the one the log was written for: why says how,
// and nothing is written.
func restoreCheckpoint(path string, h Header) (exists bool, why string, err error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return false, "", nil
	}
	if err != nil {
		return false, "", err
	}
	defer f.Close()
	heads, err := readMetaHeads(f, h.PageSize)
	if err != nil {
		return true, "", err
	}
	newest, found := uint64(0), false
	for _, head := range heads {
		if txid, ps, ok := parseMetaHead(head); ok && ps == h.PageSize && (!found || txid > newest) {
			newest, found = txid, true
		}
	}
	switch {
	case !found:
		return true, "", corruptf("neither meta page of the store checks, and its write-ahead log cannot repair that")
	case newest < h.Txid:
		return true, fmt.Sprintf("the log's checkpoint is transaction %d but the store is only at %d", h.Txid, newest), nil
	case newest == h.Txid && string(heads[h.Txid%2]) != string(h.Meta):
		return true, fmt.Sprintf("the log's checkpoint is not this store's transaction %d", h.Txid), nil
	}
	root, freelist, err := checkpointSums(f, h.Meta, h.PageSize)
	if err != nil {
		return true, "", err
	}
	if root != h.RootSum || freelist != h.FreelistSum {
		return true, fmt.Sprintf("the pages of the log's checkpoint (transaction %d) are not in the store", h.Txid), nil
	}
	if newest == h.Txid {
		return true, "", nil
	}
	for slot := range boltMetaPageCount {
		if _, err := f.WriteAt(metaInSlot(h.Meta, slot), int64(slot*h.PageSize)); err != nil {
			return true, "", fmt.Errorf("restoring the checkpoint: %w", err)
		}
	}
	return true, "", f.Sync()
}

// foreignLog is ErrCorrupt for the log at logPath beside the database file
// at path, which it was not written for, naming both and the stores they
// belong to, and saying what the user can do about it.
func foreignLog(logPath, path string, logStore, store uuid.UUID, why string) error {
	return corruptf("the write-ahead log %s (%s) does not belong to %s (%s): %s; remove the log to open the store as it is, losing what the log holds",
		logPath, storeName(logStore), path, storeName(store), why)
}

// storeName says which store id is, for a message.
func storeName(id uuid.UUID) string {
	if id == uuid.Nil {
		return "store unknown"
	}
	return "store " + id.String()
}

// identify is the UUID opts.Identify reads from bdb.
func identify(bdb *bolt.DB, fn func(*bolt.Tx) uuid.UUID) (id uuid.UUID, err error) {
	err = bdb.View(func(tx *bolt.Tx) error {
		id = fn(tx)
		return nil
	})
	return id, err
}

// peekIdentity reads the UUID of the store at path, for the message that
// refuses a log whose checkpoint it does not hold, or Nil. The file is
// opened read-only, as it is: nothing is known of it but that the log is
// not its own, so it may be damaged, and bbolt may panic or fault on a
// damaged page, which costs only the UUID.
func peekIdentity(path string, opts Options) (id uuid.UUID) {
	if opts.Identify == nil {
		return uuid.Nil
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if recover() != nil {
			id = uuid.Nil
		}
	}()
	bdb, err := bolt.Open(path, 0, &bolt.Options{ReadOnly: true, Timeout: opts.LockTimeout})
	if err != nil {
		return uuid.Nil
	}
	defer bdb.Close()
	id, _ = identify(bdb, opts.Identify)
	return id
}

// openBolt opens bbolt on the file at path, mapped with room to spare
// (mapSizeFor), waiting up to timeout for another process that holds it;
// then it fails with ErrLocked.
func openBolt(path string, timeout time.Duration) (*bolt.DB, int64, error) {
	var size int64
	if st, err := os.Stat(path); err == nil {
		size = st.Size()
	}
	mapSize := mapSizeFor(size)
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:         timeout,
		FreelistType:    bolt.FreelistMapType,
		InitialMmapSize: int(mapSize),
	})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, 0, errLocked("%s (waited %v)", path, timeout)
	}
	if err != nil {
		return nil, 0, err
	}
	bdb.AllocSize = growStep(size)
	return bdb, mapSize, nil
}

// replay applies the log's records to bdb in one transaction, committed
// and synced by bbolt itself.
func replay(bdb *bolt.DB, bodies [][]byte, buckets [][]byte) error {
	if len(bodies) == 0 {
		return nil
	}
	return bdb.Update(func(tx *bolt.Tx) error {
		for i, body := range bodies {
			ops, err := decodeRedo(body, len(buckets))
			if err != nil {
				return fmt.Errorf("write-ahead log record %d: %w", i+1, err)
			}
			if err := applyRedo(tx, ops, buckets); err != nil {
				return err
			}
		}
		return nil
	})
}

// mmapRoom is how much address space bbolt is asked to map beyond twice
// the file's size at open: the journal works until the file reaches half
// the mapping (see journal). Address space is cheap; nothing is read
// until it is used.
var mmapRoom int64 = 1 << 30

// growStep is how far bbolt should grow a file of size bytes past what a
// commit needs. bbolt grows by its AllocSize (16 MiB) once the mapping is
// larger than that, which the journal's roomy mapping always is: left
// alone, a new store would be 16 MiB from its first commit. Growing by the
// file's own size, from 32 KiB up to bbolt's default, keeps bbolt's usual
// doubling, and its fsync per growth stays as rare.
func growStep(size int64) int {
	return int(min(max(size, 32<<10), 16<<20)) // 16 MiB: bbolt's default AllocSize
}

// mapSizeFor is the mapping asked for a file of size bytes: a whole
// number of GiB, at least twice the file.
func mapSizeFor(size int64) int64 {
	return (2*size + mmapRoom + (1<<30 - 1)) &^ (1<<30 - 1)
}
