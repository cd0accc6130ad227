package keystore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// DefaultLockTimeout is how long Open waits for another process to let go
// of the database file before giving up. A CLI invocation holds it for
// milliseconds; a second waits that long comfortably.
const DefaultLockTimeout = 5 * time.Second

// ErrLocked means another process holds the database open. It unwraps to
// EBUSY.
var ErrLocked error = &errnoError{"keystore: database is in use by another process", unix.EBUSY}

// ErrClosed is what a DB answers once closed. It unwraps to EBADF, as a
// call on a closed file descriptor does.
var ErrClosed error = &errnoError{"keystore: database is closed", unix.EBADF}

// Options configure Open. The zero value opens or creates a store whose
// data key is wrapped by the key file beside it.
type Options struct {
	// KeyFile is the key file that wraps the data key; "" means the
	// database's path with ".key" appended. It is created, mode 0600, with a
	// new store. Ignored when Passphrase is set.
	KeyFile string
	// Passphrase, if set, wraps the data key instead of a key file, through
	// Argon2id. A new store keeps Argon2 (zero: NewArgon2Params) in its
	// metadata; an existing one uses what it kept.
	Passphrase []byte
	Argon2     Argon2Params
	// LockTimeout is how long to wait for another opener; 0 means
	// DefaultLockTimeout.
	LockTimeout time.Duration
	// DeferWrite opens an existing store's file for reading only, and
	// for writing at the first Update: for a process that may well only
	// read, such as a CLI command, since bbolt reads a file's whole
	// freelist when it opens it for writing (see deferwrite.go). The
	// store behaves the same either way, but Update must not be called
	// from inside View, which then deadlocks.
	DeferWrite bool
}

// DB is an open store: the bbolt file and its write-ahead log, its
// unwrapped data key, and the committer that shares fsyncs among
// concurrent writers.
type DB struct {
	bolt      *bolt.DB
	path      string
	sealer    *Sealer
	perm      *serialPermutation // serials to rows and back (serials.go)
	sealed    sealedCache        // opened sealed parts of records (sealedcache.go)
	commit    *committer
	journal   *journal // durability through the write-ahead log (journal.go)
	closeOnce sync.Once
	closeErr  error

	// With Options.DeferWrite, bolt is read-only while deferred is set,
	// until the first write transaction reopens it (deferwrite.go). swap
	// guards the reopen; reopenErr says why bolt is nil, if it is.
	deferred    atomic.Bool
	swap        sync.RWMutex
	reopenErr   error
	lockTimeout time.Duration

	// vol is the published in-memory part of the store (volatile keys and
	// links); staged is the write transaction stagedFor's private copy.
	vol       atomic.Pointer[volatileState]
	stagedFor *bolt.Tx
	staged    *volatileState

	// What the current write transaction changes (changes.go).
	onChange   func(*Changes)
	onPending  func(bool)
	onChanging func(serial uint32, graph bool)
	changesFor *bolt.Tx
	changed    *Changes
}

// Open opens the store at path, creating it (mode 0600, and its directory
// 0700) if it does not exist. It waits up to opts.LockTimeout for another
// process holding the file, then fails with ErrLocked naming the file. A
// store of a newer schema, a damaged one, a wrong passphrase or a missing
// or wrong key file all fail with an error saying which.
func Open(path string, opts Options) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, openError(path, err)
	}
	timeout := opts.LockTimeout
	if timeout <= 0 {
		timeout = DefaultLockTimeout
	}
	// The log is locked before the database is touched: recovery writes
	// the database file before bbolt opens (and locks) it.
	wal, err := openWAL(path+".wal", timeout)
	if errors.Is(err, errWALLocked) {
		return nil, fmt.Errorf("%w: %s (waited %v)", ErrLocked, path, timeout)
	}
	if err != nil {
		return nil, openError(path, err)
	}
	db, err := open(path, wal, timeout, opts)
	if err != nil {
		wal.close()
		return nil, err
	}
	return db, nil
}

// open opens the store under its locked log: recovery from the log, then
// bbolt, then the schema and the data key, then the journal.
func open(path string, wal *walFile, timeout time.Duration, opts Options) (*DB, error) {
	log, err := wal.read()
	if err != nil {
		return nil, openError(path, err)
	}
	// A damaged log is refused before anything is written: the files stay
	// as they are for a repair. A log beside no database means nothing.
	if _, err := os.Stat(path); err == nil {
		if err := log.refusal(wal.path); err != nil {
			return nil, openError(path, err)
		}
	}
	bdb, mapSize, deferred := openDeferred(path, wal, &log, timeout, opts)
	if !deferred {
		bdb, mapSize, err = recoverFromLog(path, wal, &log, timeout)
		if err != nil {
			return nil, err
		}
	}
	db := &DB{bolt: bdb, path: path, lockTimeout: timeout}
	db.vol.Store(newVolatileState())
	// An existing store of the current schema needs no write to open: a read
	// transaction unwraps its data key, and no commit (two fsyncs) is paid.
	current := false
	err = bdb.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			return nil
		}
		if v, err := schemaVersion(meta); err != nil || v != SchemaVersion {
			return nil
		}
		current = true
		if err := db.unwrap(meta, opts); err != nil {
			return err
		}
		return db.loadPermutation(meta)
	})
	if err == nil && !current && deferred {
		// An upgrade writes: open for writing now.
		bdb.Close()
		if bdb, mapSize, err = openBolt(path, timeout); err != nil {
			return nil, err
		}
		db.bolt, deferred = bdb, false
	}
	if err == nil && !current {
		err = bdb.Update(func(tx *bolt.Tx) error { return db.setUp(tx, opts) })
		if errors.Is(err, errRewritten) {
			// The upgrade wrote the store into a new file (rewrite.go),
			// from the file recoverFromLog brought up to date.
			if bdb, mapSize, err = db.swapInRewritten(bdb, wal, timeout); err != nil {
				db.sealer.Wipe()
				return nil, err
			}
			db.bolt = bdb
			err = bdb.View(func(tx *bolt.Tx) error {
				meta := tx.Bucket(bucketMeta)
				if v, err := schemaVersion(meta); err != nil || v != SchemaVersion {
					return openError(path, corrupt("the upgraded store says schema %d (%v)", v, err))
				}
				return db.loadPermutation(meta)
			})
		}
	}
	if err == nil {
		db.journal, err = newJournal(bdb, path, wal, mapSize)
	}
	if err != nil {
		bdb.Close()
		return nil, err
	}
	// A transaction's staged volatile state is published by its OnCommit;
	// whatever became of it, the next transaction starts from the published
	// state (and a new *bolt.Tx may reuse a dead one's address).
	db.commit = newCommitter(bdb, db.journal, func() {
		if db.changed != nil && db.onPending != nil {
			db.onPending(false)
		}
		db.stagedFor, db.staged = nil, nil
		db.changesFor, db.changed = nil, nil
	})
	if deferred {
		db.deferred.Store(true)
		db.commit.beforeWrite = db.reopenForWriting
	}
	return db, nil
}

// setUp creates a new store's buckets and data key, or checks an existing
// store's schema and unwraps its data key.
func (db *DB) setUp(tx *bolt.Tx, opts Options) error {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return db.create(tx, opts)
	}
	version, err := schemaVersion(meta)
	if err != nil {
		return openError(db.path, err)
	}
	if version > SchemaVersion {
		return fmt.Errorf("keystore: open %s: schema version %d is newer than this program's %d: %w", db.path, version, SchemaVersion, unix.EPROTONOSUPPORT)
	}
	if err := db.unwrap(meta, opts); err != nil {
		return err
	}
	if version >= 3 {
		if err := db.loadPermutation(meta); err != nil {
			return err
		}
	}
	return db.upgrade(tx, version)
}

// loadPermutation reads the serial permutation's key (schema 3 on).
func (db *DB) loadPermutation(meta *bolt.Bucket) error {
	perm, err := newSerialPermutation(meta.Get(metaSerialKey))
	if err != nil {
		return openError(db.path, err)
	}
	db.perm = perm
	return nil
}

// unwrap gets the KEK as the store says and unwraps the data key with it.
func (db *DB) unwrap(meta *bolt.Bucket, opts Options) error {
	kek, err := db.existingKEK(meta, opts)
	if err != nil {
		return err
	}
	defer kek.Wipe()
	sealer, err := kek.UnwrapDataKey(meta.Get(metaDataKey))
	if err != nil {
		return openError(db.path, err)
	}
	db.sealer = sealer
	return nil
}

func (db *DB) create(tx *bolt.Tx, opts Options) error {
	for _, name := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return openError(db.path, err)
		}
	}
	meta := tx.Bucket(bucketMeta)
	var kek *KEK
	var err error
	if opts.Passphrase != nil {
		params := opts.Argon2
		if params.Salt == nil {
			params = NewArgon2Params()
		}
		header, err := params.MarshalBinary()
		if err != nil {
			return openError(db.path, err)
		}
		if kek, err = DeriveKEK(opts.Passphrase, params); err != nil {
			return openError(db.path, err)
		}
		if err := meta.Put(metaArgon2, header); err != nil {
			return err
		}
		if err := meta.Put(metaKEKKind, []byte(kekPassphrase)); err != nil {
			return err
		}
	} else {
		keyFile := db.keyFile(opts)
		kek, err = LoadKeyFile(keyFile)
		if errors.Is(err, fs.ErrNotExist) {
			kek, err = CreateKeyFile(keyFile)
		}
		if err != nil {
			return openError(db.path, err)
		}
		if err := meta.Put(metaKEKKind, []byte(kekKeyFile)); err != nil {
			return err
		}
	}
	defer kek.Wipe()
	db.sealer = NewSealer()
	if err := meta.Put(metaDataKey, kek.WrapDataKey(db.sealer)); err != nil {
		return err
	}
	serialKey := newSerialKey()
	if db.perm, err = newSerialPermutation(serialKey); err != nil {
		return err
	}
	if err := meta.Put(metaSerialKey, serialKey); err != nil {
		return err
	}
	if err := meta.Put(metaNextRow, u32(MinSerial)); err != nil {
		return err
	}
	return putSchemaVersion(meta, SchemaVersion)
}

func (db *DB) existingKEK(meta *bolt.Bucket, opts Options) (*KEK, error) {
	switch kind := string(meta.Get(metaKEKKind)); kind {
	case kekPassphrase:
		if opts.Passphrase == nil {
			return nil, fmt.Errorf("%w: the store %s is protected by a passphrase and none was given", ErrWrongKey, db.path)
		}
		var params Argon2Params
		if err := params.UnmarshalBinary(meta.Get(metaArgon2)); err != nil {
			return nil, openError(db.path, err)
		}
		kek, err := DeriveKEK(opts.Passphrase, params)
		if err != nil {
			return nil, openError(db.path, err)
		}
		return kek, nil
	case kekKeyFile:
		kek, err := LoadKeyFile(db.keyFile(opts))
		if err != nil {
			return nil, openError(db.path, err)
		}
		return kek, nil
	default:
		return nil, fmt.Errorf("%w: store %s: unknown key-encryption kind %q", ErrCorrupt, db.path, kind)
	}
}

func (db *DB) keyFile(opts Options) string {
	if opts.KeyFile != "" {
		return opts.KeyFile
	}
	return db.path + ".key"
}

// Path is the database file's path.
func (db *DB) Path() string { return db.path }

// Close waits for pending commits, then closes the file and wipes the data
// key.
// Close is idempotent.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		db.commit.close()
		db.closeErr = db.journal.close()
		if db.bolt == nil { // lost reopening it (deferwrite.go)
			db.closeErr = errors.Join(db.closeErr, db.reopenErr)
		} else if err := db.bolt.Close(); db.closeErr == nil {
			db.closeErr = err
		}
		db.sealer.Wipe()
		db.sealed.parts.Clear() // the descriptions it opened
	})
	return db.closeErr
}

// View runs fn in a read-only transaction that sees one consistent state.
func (db *DB) View(fn func(*Tx) error) error {
	if db.deferred.Load() {
		// The file may be reopened for writing meanwhile (deferwrite.go).
		db.swap.RLock()
		defer db.swap.RUnlock()
		if db.bolt == nil {
			return db.reopenErr
		}
	}
	return db.bolt.View(func(btx *bolt.Tx) error { return fn(&Tx{btx: btx, db: db}) })
}

// Update runs fn in a read-write transaction and returns once its changes
// are durable (in the fsynced write-ahead log) or have failed. Concurrent
// Updates share one transaction and one fsync (group commit); a lone
// Update is committed at once, never held back to wait for company.
//
// fn must check everything before it writes: if it returns an error, the
// shared transaction is rolled back and the other calls in it are run
// again without it, so fn may run more than once and must not have side
// effects outside the transaction. Put side effects in Tx.OnCommit, which
// runs after the commit is durable, in commit order. ctx bounds only the wait to be
// taken up; once fn has run, Update waits for the outcome so that a change
// is never acknowledged or abandoned by mistake.
func (db *DB) Update(ctx context.Context, fn func(*Tx) error) error {
	return db.commit.do(ctx, func(btx *bolt.Tx) error { return fn(&Tx{btx: btx, db: db}) })
}

// openError names the store in an error from opening it. Errors of this
// package already start "keystore: "; others get it.
func openError(path string, err error) error {
	if strings.HasPrefix(err.Error(), "keystore: ") {
		return fmt.Errorf("%w (store %s)", err, path)
	}
	return fmt.Errorf("keystore: open %s: %w", path, err)
}
