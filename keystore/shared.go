//go:build linux

package keystore

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// A store kept by an engine (Options.Engine, engine.go): opening it, and
// its transactions.

// openEngine opens the store that opts.Engine keeps: it creates the
// store's meta rows if the engine holds none, and unwraps the data key
// with this opener's key file or passphrase.
func openEngine(opts Options) (*DB, error) {
	if opts.Passphrase == nil && opts.KeyFile == "" {
		return nil, fmt.Errorf("keystore: open: a store kept by an engine needs a key file (Options.KeyFile) or a passphrase: %w", unix.EINVAL)
	}
	db := &DB{}
	db.vol.Store(newVolatileState())
	e, err := opts.Engine(Feed{db})
	if err != nil {
		return nil, err
	}
	db.engine, db.path = e, e.String()
	if err := db.openMeta(opts); err != nil {
		e.Close()
		if db.sealer != nil {
			db.sealer.Wipe()
		}
		return nil, err
	}
	// From now on the feed tells the caches and watchers above.
	db.feedMu.Lock()
	db.feedReady = true
	db.feedMu.Unlock()
	return db, nil
}

// openMeta creates the store's meta rows unless they are there (another
// opener may make them first: then its are used), and loads them.
func (db *DB) openMeta(opts Options) error {
	created := false
	err := db.engineUpdate(context.Background(), func(tx *Tx) error {
		if db.sealer != nil { // made by a run the engine refused
			db.sealer.Wipe()
			db.sealer = nil
		}
		if created = tx.get(idMeta, metaSchema) == nil; !created {
			return nil
		}
		return db.createMeta(engineMeta{tx}, opts)
	})
	if err != nil || created {
		if err == nil {
			db.bindKeyFile()
		}
		return err
	}
	// The meta rows are copied out, so that unwrapping (Argon2, for a
	// passphrase) holds no transaction open.
	meta := mapMeta{}
	err = db.View(func(tx *Tx) error {
		c := tx.cursor(idMeta)
		for k, v := c.Seek(nil); k != nil; k, v = c.Next() {
			meta[string(k)] = string(v)
		}
		return nil
	})
	if err != nil {
		return err
	}
	v, err := schemaVersion(meta)
	if err != nil {
		return openError(db.path, err)
	}
	if v != SchemaVersion {
		return fmt.Errorf("keystore: open %s: schema version %d, and this program knows %d: %w", db.path, v, SchemaVersion, unix.EPROTONOSUPPORT)
	}
	if err := db.loadUUID(meta); err != nil {
		return err
	}
	if err := db.unwrap(meta, opts); err != nil {
		if errors.Is(err, ErrWrongKey) {
			return fmt.Errorf("%w: this host's key does not unwrap the data key of the store in %s (UUID %s): give every host the key file, or the passphrase, of the host that created it", err, db.path, db.uuid)
		}
		return err
	}
	db.bindKeyFile()
	return db.loadPermutation(meta)
}

// engineMeta is the meta bucket in an engine's write transaction.
type engineMeta struct{ tx *Tx }

func (m engineMeta) Get(k []byte) []byte   { return m.tx.get(idMeta, k) }
func (m engineMeta) Put(k, v []byte) error { return m.tx.put(idMeta, k, v) }

// mapMeta is a copy of the meta bucket.
type mapMeta map[string]string

func (m mapMeta) Get(k []byte) []byte {
	v, ok := m[string(k)]
	if !ok {
		return nil
	}
	return []byte(v)
}

func (m mapMeta) Put(k, v []byte) error {
	m[string(k)] = string(v)
	return nil
}

// engineView is View on an engine.
func (db *DB) engineView(fn func(*Tx) error) error {
	return db.engine.View(func(r Rows) error { return fn(&Tx{db: db, rows: r}) })
}

// engineUpdate is Update on an engine: one at a time, as bbolt has one
// writer, since the staging of volatile keys and of changes (afterTx)
// assumes it; what the transaction registered runs once the engine has
// committed it, in the order a file's commit runs it: what new readers
// see (the volatile keys staged), then what waits for durability
// (OnCommit).
func (db *DB) engineUpdate(ctx context.Context, fn func(*Tx) error) error {
	db.engineWrite.Lock()
	defer db.engineWrite.Unlock()
	var tx *Tx
	err := db.engine.Update(ctx, func(r Rows) error {
		db.afterTx() // a run the engine refused staged nothing
		tx = &Tx{db: db, rows: r, write: true}
		return fn(tx)
	})
	if err != nil || tx == nil {
		db.afterTx()
		return err
	}
	for _, fn := range tx.visible {
		fn()
	}
	db.afterTx()
	for _, fn := range tx.durable {
		fn()
	}
	return nil
}

// Sync waits until a store kept by an engine holds every change any
// opener had committed when Sync was called, and their notifications are
// delivered: what a read then answers is linearizable. On a file it
// returns at once.
func (db *DB) Sync(ctx context.Context) error {
	if db.engine == nil {
		return nil
	}
	return db.engine.Sync(ctx)
}

// Shared reports whether the store is kept by an engine, and so shared by
// its openers: notifications then go through PutEvents and OnEvents.
func (db *DB) Shared() bool { return db.engine != nil }
