//go:build linux

package keystore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/keyctl-go/keyctl-go/keystore/internal/journal"
)

// upgrade brings a store of an older schema version to SchemaVersion, in
// the transaction that opens it, one version at a time, so that a crash
// part way leaves the store as it was. The step to version 6 seals every
// description, and sealing them in place would leave them in clear in the
// pages bbolt frees: it writes the upgraded store into a new file instead
// (journal.Rewrite), from this transaction with the earlier steps in it,
// and returns errRewritten, which rolls the transaction back; Open then
// puts the new file in the old one's place (journal.SwapIn). So the new
// file must be at SchemaVersion: what the steps after a rewriting one
// change is made before the steps, in this transaction, as the store's
// UUID (version 7) is.
func (db *DB) upgrade(tx *bolt.Tx, from uint32) error {
	if err := db.giveUUID(tx.Bucket(bucketMeta)); err != nil {
		return err
	}
	for v := from; v < SchemaVersion; v++ {
		step, ok := upgrades[v]
		if !ok {
			return fmt.Errorf("%w: schema version %d has no upgrade path", ErrCorrupt, v)
		}
		err := step(db, tx)
		if errors.Is(err, errRewritten) {
			return err
		}
		if err != nil {
			return fmt.Errorf("keystore: upgrading schema %d to %d: %w", v, v+1, err)
		}
		if err := putSchemaVersion(tx.Bucket(bucketMeta), v+1); err != nil {
			return err
		}
	}
	return nil
}

// upgrades maps a version to the step that takes a store from it to the
// next. Changes to the log need no step: Open has recovered the store from
// its log, in the log's own format, before it upgrades (journal.Recover),
// and the journal writes its own format from then on.
var upgrades = map[uint32]func(*DB, *bolt.Tx) error{
	1: addParents,
	2: foldIntoRows,
	3: func(*DB, *bolt.Tx) error { return nil }, // the log beside the file; no bucket changes
	4: func(*DB, *bolt.Tx) error { return nil }, // the log's format 2; no bucket changes
	5: sealDescriptions,
	6: func(*DB, *bolt.Tx) error { return nil }, // the store's UUID, given before the steps; the log's format 3
}

// errRewritten says the upgrade wrote the store into a new file: the
// transaction on the old one rolls back, and Open swaps the files.
var errRewritten = errors.New("keystore: the upgraded store was written to a new file")

// sealDescriptions (5 → 6) writes the store into a new file with every
// description and restriction sealed and every index entry and name keyed
// by its hash (sealEntry), and returns errRewritten.
func sealDescriptions(db *DB, tx *bolt.Tx) error {
	if err := journal.Rewrite(tx, db.sealEntry); err != nil {
		return fmt.Errorf("keystore: upgrading schema 5 to 6: %w", err)
	}
	return errRewritten
}

// sealEntry converts one entry of a schema-5 store for schema 6: records
// get their descriptions sealed, index entries and names are keyed by
// hashes. It returns the entry's new key and value.
func (db *DB) sealEntry(bucket, k, v []byte) ([]byte, []byte, error) {
	switch {
	case bytes.Equal(bucket, bucketRows) && len(k) == 5 && k[4] == tagRecord:
		r, err := unmarshalRecordV1(v)
		if err != nil {
			return nil, nil, fmt.Errorf("record at row %d: %w", binary.BigEndian.Uint32(k), err)
		}
		b, _, err := db.sealer.sealRecord(r, nil)
		return k, b, err
	case bytes.Equal(bucket, bucketRows) && len(k) > 5 && k[4] == tagIndex:
		// row, 'x', type, NUL, description: the type has no NUL.
		typ, desc, ok := bytes.Cut(k[5:], []byte{0})
		if !ok || len(typ) == 0 || len(typ) > MaxTypeLen {
			return nil, nil, corrupt("index entry %q", k)
		}
		h := db.sealer.index.desc(string(typ), string(desc))
		return indexKey(binary.BigEndian.Uint32(k), h), v, nil
	case bytes.Equal(bucket, bucketNames):
		if len(k) < 1 {
			return nil, nil, corrupt("empty name")
		}
		sum := db.sealer.index.name(NameKind(k[0]), string(k[1:]))
		return append([]byte{k[0]}, sum[:]...), v, nil
	case bytes.Equal(bucket, bucketMeta) && bytes.Equal(k, metaSchema):
		return k, u32(SchemaVersion), nil // the later steps are in tx already (upgrade)
	}
	return k, v, nil
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
		r, err := unmarshalRecordV1(v)
		if err != nil || len(k) != 4 || binary.BigEndian.Uint32(k) != r.Serial {
			return fmt.Errorf("%w: key entry %x: %v", ErrCorrupt, k, err)
		}
		row := perm.row(r.Serial)
		stored, tally := splitKeyring(r)
		b, err := marshalRecordV1(stored)
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
