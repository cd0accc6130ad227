//go:build linux

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

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keystore/internal/journal"
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
	// freelist when it opens it for writing. The store behaves the same
	// either way, but Update must not be called from inside View, which
	// it then waits for, for ever, and until the first Update a View
	// must not wait for another goroutine's View (see the package doc's
	// Caveats).
	DeferWrite bool
	// Engine, if set, keeps the store somewhere other than the file at
	// Open's path, which is then not used: Open calls it once, with the
	// feed the engine tells of commits, and the store closes what it
	// returns (engine.go; package keystore/etcdstore keeps a store in
	// etcd, shared by hosts). KeyFile or Passphrase must be set.
	// LockTimeout and DeferWrite concern the file alone.
	Engine func(Feed) (Engine, error)
}

// DB is an open store: the bbolt file and its write-ahead log (or an
// Engine), its unwrapped data key, and the committer that shares fsyncs
// among concurrent writers.
type DB struct {
	path    string
	sealer  *Sealer
	perm    *serialPermutation // serials to rows and back (serials.go)
	sealed  sealedCache        // opened sealed parts of records (sealedcache.go)
	journal *journal.DB        // durability through the write-ahead log
	uuid    uuid.UUID          // the store's identity (schema.go)
	// keyFile is the key file that wraps the data key, if one does, and
	// the store it is bound to (keyfile.go): Open binds an unbound one.
	keyFileUsed  string
	keyFileBound uuid.UUID
	closeOnce    sync.Once
	closeErr     error

	// vol is the published in-memory part of the store (volatile keys and
	// links); staged is the write transaction stagedFor's private copy.
	vol       atomic.Pointer[volatileState]
	stagedFor any
	staged    *volatileState

	// What the current write transaction changes (changes.go).
	onChange   func(*Changes)
	onPending  func(bool)
	onChanging func(serial uint32, graph bool)
	changesFor any // Tx.id of the transaction changed is of
	changed    *Changes

	// engine keeps the store if it is not in a file (shared.go); nil for
	// a file. engineWrite makes its write transactions one at a time.
	engine      Engine
	engineWrite sync.Mutex
	// feedMu guards what the engine's feed reads (feed.go) against the
	// setters, which the caller may run while the feed runs.
	feedMu    sync.Mutex
	feedReady bool // the store is open: the feed tells the hooks
	onEvents  func(rev uint64, b []byte)
	onLoss    func(last, now uint64)
}

// Open opens the store at path, creating it (mode 0600, and its directory
// 0700) if it does not exist. It waits up to opts.LockTimeout for another
// process holding the file, then fails with ErrLocked naming the file. A
// store of a newer schema, a damaged one, a wrong passphrase or a missing
// or wrong key file, a log or key file of another store, all fail with an
// error saying which.
func Open(path string, opts Options) (*DB, error) {
	if opts.Engine != nil {
		return openEngine(opts)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, openError(path, err)
	}
	timeout := opts.LockTimeout
	if timeout <= 0 {
		timeout = DefaultLockTimeout
	}
	// The log is locked before the database is touched: recovery writes
	// the database file before bbolt opens (and locks) it.
	wal, err := journal.OpenLog(journal.LogPath(path), timeout)
	if errors.Is(err, journal.ErrLocked) {
		return nil, fmt.Errorf("%w: %s (waited %v)", ErrLocked, path, timeout)
	}
	if err != nil {
		return nil, openError(path, err)
	}
	db, err := open(path, wal, timeout, opts)
	if err != nil {
		wal.Close()
		return nil, err
	}
	return db, nil
}

// open opens the store under its locked log: recovery from the log, then
// bbolt, then the schema and the data key, then the journal.
func open(path string, wal *journal.Log, timeout time.Duration, opts Options) (*DB, error) {
	log, err := wal.Read()
	if err != nil {
		return nil, openError(path, err)
	}
	// A damaged log is refused before anything is written: the files stay
	// as they are for a repair. A log beside no database means nothing.
	if _, err := os.Stat(path); err == nil {
		if err := log.Refusal(wal.Path()); err != nil {
			return nil, openError(path, err)
		}
	}
	jopts := journalOptions(timeout)
	jopts.DeferWrite, jopts.NeedsWrite = opts.DeferWrite, needsWrite
	bdb, mapSize, err := journal.Recover(path, wal, &log, jopts)
	if err != nil {
		return nil, openError(path, err)
	}
	db := &DB{path: path}
	db.vol.Store(newVolatileState())
	// An existing store of the current schema needs no write to open: a read
	// transaction unwraps its data key, and no commit (two fsyncs) is paid.
	current := false
	err = bdb.View(func(tx *bolt.Tx) error {
		if needsWrite(tx) {
			return nil
		}
		current = true
		meta := tx.Bucket(bucketMeta)
		if err := db.loadUUID(meta); err != nil {
			return err
		}
		if err := db.unwrap(meta, opts); err != nil {
			return err
		}
		return db.loadPermutation(meta)
	})
	if err == nil && !current {
		err = bdb.Update(func(tx *bolt.Tx) error { return db.setUp(tx, opts) })
		if errors.Is(err, errRewritten) {
			// The upgrade wrote the store into a new file (journal.Rewrite),
			// from the file Recover brought up to date.
			if bdb, mapSize, err = journal.SwapIn(bdb, wal, timeout); err != nil {
				db.sealer.Wipe()
				return nil, openError(path, fmt.Errorf("upgrading: %w", err))
			}
			err = bdb.View(func(tx *bolt.Tx) error {
				meta := tx.Bucket(bucketMeta)
				if v, err := schemaVersion(meta); err != nil || v != SchemaVersion {
					return openError(path, corrupt("the upgraded store says schema %d (%v)", v, err))
				}
				if err := db.loadUUID(meta); err != nil {
					return err
				}
				return db.loadPermutation(meta)
			})
		}
	}
	if err == nil {
		db.bindKeyFile()
		// A transaction's staged volatile state is published by its
		// OnCommit; whatever became of it, the next transaction starts from
		// the published state (and a new *bolt.Tx may reuse a dead one's
		// address).
		jopts.AfterTx = db.afterTx
		jopts.Growth = walGrowth
		if db.journal, err = journal.New(bdb, mapSize, wal, jopts); err != nil {
			err = openError(path, err)
		}
	}
	if err != nil {
		bdb.Close()
		if db.sealer != nil {
			db.sealer.Wipe()
		}
		return nil, err
	}
	return db, nil
}

// afterTx ends a write transaction, committed or rolled back: the next
// starts from the published volatile state and a new record of changes
// (and a new *bolt.Tx may reuse a dead one's address).
func (db *DB) afterTx() {
	if db.changed != nil && db.onPending != nil {
		db.onPending(false)
	}
	db.stagedFor, db.staged = nil, nil
	db.changesFor, db.changed = nil, nil
}

// walGrowth is what the journal is told of how far the file may grow
// between checkpoints; 0 is its default. Tests set it (export_test.go).
var walGrowth int64

// journalOptions are what the journal needs to know of this package's
// layout.
func journalOptions(timeout time.Duration) journal.Options {
	return journal.Options{Buckets: allBuckets, Identify: storeUUID, LockTimeout: timeout}
}

// needsWrite reports whether opening the store in tx writes to it: a new
// store is created, one of another schema upgraded (or refused).
func needsWrite(tx *bolt.Tx) bool {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return true
	}
	v, err := schemaVersion(meta)
	return err != nil || v != SchemaVersion
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
func (db *DB) loadPermutation(meta metaRows) error {
	perm, err := newSerialPermutation(meta.Get(metaSerialKey))
	if err != nil {
		return openError(db.path, err)
	}
	db.perm = perm
	return nil
}

// unwrap gets the KEK as the store says and unwraps the data key with it.
func (db *DB) unwrap(meta metaRows, opts Options) error {
	kek, err := db.existingKEK(meta, opts)
	if err != nil {
		return err
	}
	defer kek.Wipe()
	sealer, err := kek.UnwrapDataKey(meta.Get(metaDataKey))
	if err != nil {
		return openError(db.path, db.foreignKeyFile(err))
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
	return db.createMeta(tx.Bucket(bucketMeta), opts)
}

// metaRows is the meta bucket, of a bbolt file or of an Engine.
type metaRows interface {
	Get(k []byte) []byte
	Put(k, v []byte) error
}

// createMeta gives a new store its identity, data key and serial
// permutation, in meta.
func (db *DB) createMeta(meta metaRows, opts Options) error {
	if err := db.giveUUID(meta); err != nil {
		return err
	}
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
		var bound uuid.UUID
		kek, bound, err = loadKeyFile(keyFile)
		if errors.Is(err, fs.ErrNotExist) {
			kek, err = createKeyFile(keyFile, db.uuid)
			bound = db.uuid
		}
		if err != nil {
			return openError(db.path, err)
		}
		db.keyFileUsed, db.keyFileBound = keyFile, bound
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
	if db.engine == nil { // an Engine hands out rows its own way (Rows.NewRow)
		if err := meta.Put(metaNextRow, u32(MinSerial)); err != nil {
			return err
		}
	}
	return putSchemaVersion(meta, SchemaVersion)
}

func (db *DB) existingKEK(meta metaRows, opts Options) (*KEK, error) {
	switch kind := string(meta.Get(metaKEKKind)); kind {
	case kekPassphrase:
		if opts.Passphrase == nil {
			return nil, fmt.Errorf("%w: the store %s is protected by a passphrase and none was given", ErrNeedPassphrase, db.path)
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
		keyFile := db.keyFile(opts)
		kek, bound, err := loadKeyFile(keyFile)
		if err != nil {
			return nil, openError(db.path, err)
		}
		db.keyFileUsed, db.keyFileBound = keyFile, bound
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

// UUID is the store's identity, made when it was created or upgraded to
// schema 7 and kept for its life: its log and its key file carry it too.
// A revision means something only with it (Tx.Revision): two stores
// count theirs apart, and a store deleted and made anew at the same path
// starts again from 0 under a new UUID. A copy of the store's files
// (cp, a backup restored) keeps the UUID of the store it copies.
func (db *DB) UUID() uuid.UUID { return db.uuid }

// Close waits for pending commits, then closes the file and wipes the data
// key.
// Close is idempotent.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		if db.engine != nil {
			db.closeErr = db.engine.Close()
			db.sealer.Wipe()
			db.sealed.parts.Clear()
			return
		}
		if db.closeErr = db.journal.Close(); db.closeErr != nil { // bbolt too
			db.closeErr = openError(db.path, db.closeErr)
		}
		db.sealer.Wipe()
		db.sealed.parts.Clear() // the descriptions it opened
	})
	return db.closeErr
}

// View runs fn in a read-only transaction that sees one consistent state.
func (db *DB) View(fn func(*Tx) error) error {
	if db.engine != nil {
		return db.engineView(fn)
	}
	return db.journal.View(func(btx *bolt.Tx) error { return fn(db.boltTx(btx)) })
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
	if db.engine != nil {
		return db.engineUpdate(ctx, fn)
	}
	err := db.journal.Update(ctx, func(btx *bolt.Tx) error { return fn(db.boltTx(btx)) })
	switch {
	case errors.Is(err, journal.ErrClosed):
		return ErrClosed
	case errors.Is(err, journal.ErrLocked): // opening the file for writing (DeferWrite)
		return fmt.Errorf("%w: %w", ErrLocked, err)
	}
	return err
}

// boltTx is a Tx over a transaction of the bbolt file.
func (db *DB) boltTx(btx *bolt.Tx) *Tx {
	return &Tx{db: db, bolt: boltRows{btx: btx, j: db.journal}}
}

// openError names the store in an error from opening it. Errors of this
// package already start "keystore: "; others get it. An error of the
// journal gets this package's sentinel for it in front, which its own
// message leaves out.
func openError(path string, err error) error {
	switch {
	case errors.Is(err, journal.ErrCorrupt) && !errors.Is(err, ErrCorrupt):
		return fmt.Errorf("%w: %w (store %s)", ErrCorrupt, err, path)
	case errors.Is(err, journal.ErrLocked):
		return fmt.Errorf("%w: %w", ErrLocked, err)
	}
	if strings.HasPrefix(err.Error(), "keystore: ") {
		return fmt.Errorf("%w (store %s)", err, path)
	}
	return fmt.Errorf("keystore: open %s: %w", path, err)
}
