//go:build linux

package keystore

import (
	"fmt"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"
)

// A store's identity is a UUID (version 4, random) in its meta bucket,
// made when the store is created, or when a store of schema 6 or older
// is upgraded. Its log's header (package journal) and its key file
// (keyfile.go) carry it too, so that a log or key file found beside
// another store is refused by name instead of being replayed onto it or
// tried as its key. Watchers scope revisions by it (DB.UUID).

// storeUUID reads the store's UUID from tx, or uuid.Nil for a store that
// has none yet (new, or of schema 6 or older). The journal calls it to
// tell whose log it is reading.
func storeUUID(tx *bolt.Tx) uuid.UUID {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return uuid.Nil
	}
	v := meta.Get(metaUUID)
	if len(v) != len(uuid.UUID{}) {
		return uuid.Nil
	}
	return uuid.UUID(v)
}

// loadUUID reads the store's UUID from meta, where a store of the
// current schema must have one.
func (db *DB) loadUUID(meta metaRows) error {
	v := meta.Get(metaUUID)
	if len(v) != len(uuid.UUID{}) || uuid.UUID(v) == uuid.Nil {
		return openError(db.path, corrupt("the store's UUID is %d bytes (%x)", len(v), v))
	}
	db.uuid = uuid.UUID(v)
	return nil
}

// giveUUID makes the store's UUID and keeps it in meta, unless it has one.
func (db *DB) giveUUID(meta metaRows) error {
	if v := meta.Get(metaUUID); v != nil {
		return db.loadUUID(meta)
	}
	db.uuid = uuid.New()
	if err := meta.Put(metaUUID, db.uuid[:]); err != nil {
		return fmt.Errorf("keystore: giving the store a UUID: %w", err)
	}
	return nil
}
