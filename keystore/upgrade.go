package keystore

import (
	"bytes"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// upgrade brings a store of an older schema version to SchemaVersion, in
// the transaction that opens it, one version at a time, so that a crash
// part way leaves the store as it was.
func (db *DB) upgrade(tx *bolt.Tx, from uint32) error {
	for v := from; v < SchemaVersion; v++ {
		step, ok := upgrades[v]
		if !ok {
			return fmt.Errorf("%w: schema version %d has no upgrade path", ErrCorrupt, v)
		}
		if err := step(db, tx); err != nil {
			return fmt.Errorf("keystore: upgrading schema %d to %d: %w", v, v+1, err)
		}
		if err := putSchemaVersion(tx.Bucket(bucketMeta), v+1); err != nil {
			return err
		}
	}
	return nil
}

// upgrades maps a version to the step that takes a store from it to the next.
var upgrades = map[uint32]func(*DB, *bolt.Tx) error{
	1: addParents,
	2: foldIntoRows,
	3: func(*DB, *bolt.Tx) error { return nil }, // the log beside the file; no bucket changes
	4: func(*DB, *bolt.Tx) error { return nil }, // the log's format 2 (recoverFromLog read format 1); no bucket changes
}

// addParents (1 → 2) builds the parents bucket from the links bucket.
func addParents(_ *DB, tx *bolt.Tx) error {
	parents, err := tx.CreateBucketIfNotExists(v2BucketParents)
	if err != nil {
		return err
	}
	return tx.Bucket(v2BucketLinks).ForEach(func(k, v []byte) error {
		if len(k) != 12 || len(v) != 4 {
			return fmt.Errorf("%w: link entry %x → %x", ErrCorrupt, k, v)
		}
		ring, seq := binary.BigEndian.Uint32(k), binary.BigEndian.Uint64(k[4:])
		return parents.Put(v2ParentKey(binary.BigEndian.Uint32(v), ring, seq), nil)
	})
}

func v2ParentKey(key, ring uint32, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint32(u32(key), ring), seq)
}

// foldIntoRows (2 → 3) draws the serial permutation and moves every
// entry of the keys, payloads, links, index and parents buckets into rows,
// under the row of its key's (or keyring's) serial. Serials do not change.
func foldIntoRows(db *DB, tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	key := newSerialKey()
	perm, err := newSerialPermutation(key)
	if err != nil {
		return err
	}
	if err := meta.Put(metaSerialKey, key); err != nil {
		return err
	}
	if err := meta.Put(metaNextRow, u32(MinSerial)); err != nil {
		return err
	}
	db.perm = perm
	rows, err := tx.CreateBucket(bucketRows)
	if err != nil {
		return err
	}
	for _, name := range [][]byte{v2BucketKeys, v2BucketPayloads, v2BucketLinks, v2BucketIndex, v2BucketParents} {
		if tx.Bucket(name) == nil {
			return fmt.Errorf("%w: schema 2 store has no %s bucket", ErrCorrupt, name)
		}
	}
	err = tx.Bucket(v2BucketKeys).ForEach(func(k, v []byte) error {
		var r KeyRecord
		if err := r.UnmarshalBinary(v); err != nil || len(k) != 4 || binary.BigEndian.Uint32(k) != r.Serial {
			return fmt.Errorf("%w: key entry %x: %v", ErrCorrupt, k, err)
		}
		row := perm.row(r.Serial)
		stored, tally := splitKeyring(&r)
		b, err := stored.MarshalBinary()
		if err != nil {
			return err
		}
		if err := rows.Put(rowKey(row, tagRecord), b); err != nil {
			return err
		}
		if r.IsKeyring() {
			return rows.Put(tallyKey(row), tally)
		}
		return nil
	})
	if err != nil {
		return err
	}
	err = tx.Bucket(v2BucketPayloads).ForEach(func(k, v []byte) error {
		if len(k) != 4 {
			return fmt.Errorf("%w: payload entry %x", ErrCorrupt, k)
		}
		return rows.Put(rowKey(perm.row(binary.BigEndian.Uint32(k)), tagPayload), v)
	})
	if err != nil {
		return err
	}
	err = tx.Bucket(v2BucketLinks).ForEach(func(k, v []byte) error {
		if len(k) != 12 || len(v) != 4 {
			return fmt.Errorf("%w: link entry %x → %x", ErrCorrupt, k, v)
		}
		ring, seq := binary.BigEndian.Uint32(k), binary.BigEndian.Uint64(k[4:])
		return rows.Put(linkKey(perm.row(ring), seq), bytes.Clone(v))
	})
	if err != nil {
		return err
	}
	err = tx.Bucket(v2BucketIndex).ForEach(func(k, v []byte) error {
		if len(k) < 5 || len(v) != 12 {
			return fmt.Errorf("%w: index entry %x → %x", ErrCorrupt, k, v)
		}
		nk := append(rowKey(perm.row(binary.BigEndian.Uint32(k)), tagIndex), k[4:]...)
		return rows.Put(nk, bytes.Clone(v))
	})
	if err != nil {
		return err
	}
	err = tx.Bucket(v2BucketParents).ForEach(func(k, v []byte) error {
		if len(k) != 16 {
			return fmt.Errorf("%w: parent entry %x", ErrCorrupt, k)
		}
		nk := append(rowKey(perm.row(binary.BigEndian.Uint32(k)), tagParent), k[4:]...)
		return rows.Put(nk, nil)
	})
	if err != nil {
		return err
	}
	for _, name := range [][]byte{v2BucketKeys, v2BucketPayloads, v2BucketLinks, v2BucketIndex, v2BucketParents} {
		if err := tx.DeleteBucket(name); err != nil {
			return err
		}
	}
	return nil
}
