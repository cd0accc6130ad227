//go:build linux

package keystore

import (
	"context"
	"encoding/binary"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckFindsWhatHashesCannotVouchFor corrupts a consistent store in
// ways only the data key can tell, each time in a fresh store, and
// expects Check to name the problem: a record whose hash is not its
// sealed description's, a name registered under another name's hash, a
// record sealed under another store's data key.
func TestCheckFindsWhatHashesCannotVouchFor(t *testing.T) {
	other := NewSealer()
	defer other.Wipe()
	for _, c := range []struct {
		name    string
		corrupt func(tx *Tx) error
		want    string
	}{
		{"a hash of another description", func(tx *Tx) error {
			child := &KeyRecord{Serial: 11, Type: "user", Description: "child", Perm: 0x3f010000, Links: 1}
			wrong := tx.DescHash("user", "not the child")
			b, _, err := tx.db.sealer.sealRecord(child, &wrong)
			if err != nil {
				return err
			}
			return tx.put(idRows, rowKey(tx.row(11), tagRecord), b)
		}, "key 11: the hash beside its sealed description is not the description's"},
		{"a name under another name's hash", func(tx *Tx) error {
			if err := tx.del(idNames, tx.nameKey(NameSession, "work")); err != nil {
				return err
			}
			return tx.put(idNames, tx.nameKey(NameSession, "play"), u32(12))
		}, `names keyring 12, whose description "work" it is not the hash of`},
		{"a record of another store", func(tx *Tx) error {
			child := &KeyRecord{Serial: 11, Type: "user", Description: "child", Perm: 0x3f010000, Links: 1}
			b, _, err := other.sealRecord(child, nil)
			if err != nil {
				return err
			}
			return tx.put(idRows, rowKey(tx.row(11), tagRecord), b)
		}, "record at row"},
	} {
		t.Run(c.name, func(t *testing.T) {
			db, err := Open(filepath.Join(t.TempDir(), "keys.db"), Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			ctx := context.Background()
			err = db.Update(ctx, func(tx *Tx) error {
				ring := &KeyRecord{Serial: 10, Type: "keyring", Description: "ring", Perm: 0x3f010000, Pins: 1, NextSeq: 1, DataLen: 1}
				child := &KeyRecord{Serial: 11, Type: "user", Description: "child", Perm: 0x3f010000, Links: 1}
				session := &KeyRecord{Serial: 12, Type: "keyring", Description: "work", Perm: 0x3f010000, Pins: 1}
				for _, r := range []*KeyRecord{ring, child, session} {
					if err := tx.PutKey(r); err != nil {
						return err
					}
				}
				if err := tx.PutLink(10, Link{Seq: 0, Key: 11}, tx.RecordHash(child)); err != nil {
					return err
				}
				return tx.PutName(NameSession, "work", 12)
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Check(); err != nil {
				t.Fatalf("a consistent store fails Check: %v", err)
			}
			if err := db.Update(ctx, c.corrupt); err != nil {
				t.Fatal(err)
			}
			if err := db.Check(); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Check = %v, want it to say %q", err, c.want)
			}
		})
	}
}

// A record sealed under another data key does not open: reading it is
// ErrCorrupt, naming the key, and yields nothing.
func TestRecordOfAnotherStoreFailsToOpen(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "keys.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	other := NewSealer()
	defer other.Wipe()
	r := &KeyRecord{Serial: 11, Type: "user", Description: "theirs", Perm: 0x3f010000, Pins: 1}
	b, _, err := other.sealRecord(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(context.Background(), func(tx *Tx) error { return tx.put(idRows, rowKey(tx.row(11), tagRecord), b) }); err != nil {
		t.Fatal(err)
	}
	db.View(func(tx *Tx) error {
		got, err := tx.Key(11)
		if !errors.Is(err, ErrCorrupt) || got != nil || !strings.Contains(err.Error(), "key 11") {
			t.Errorf("Key = %+v, %v; want nothing and ErrCorrupt naming key 11", got, err)
		}
		return nil
	})
}

// Each of Check's passes names what it finds broken: one invariant
// broken at a time, in a fresh store that passed Check before.
func TestCheckNamesEachBrokenInvariant(t *testing.T) {
	for _, c := range []struct {
		name    string
		corrupt func(tx *Tx) error
		want    string
	}{
		{"checkMeta: no UUID", func(tx *Tx) error {
			return tx.del(idMeta, metaUUID)
		}, "the store's UUID is"},
		{"checkRowEntries: an entry at no key's row", func(tx *Tx) error {
			return tx.put(idRows, rowKey(tx.row(99), tagPayload), []byte("stray"))
		}, "where no key is stored"},
		{"checkRowEntries: an unknown tag", func(tx *Tx) error {
			return tx.put(idRows, rowKey(tx.row(11), 'z'), nil)
		}, "has an unknown tag"},
		{"checkIndexEntries: an index entry without its link", func(tx *Tx) error {
			return tx.put(idRows, indexKey(tx.row(10), tx.DescHash("user", "nobody")), make([]byte, 12))
		}, "has no link"},
		{"checkKeyCounts: a held key in orphans", func(tx *Tx) error {
			return tx.put(idOrphans, u32(11), nil)
		}, "key 11: orphan entry true"},
		{"checkOrphans: an orphan entry of no key", func(tx *Tx) error {
			return tx.put(idOrphans, u32(99), nil)
		}, "orphan entry 00000063 is no key"},
		{"checkExpiries: an expiry entry of no key", func(tx *Tx) error {
			return tx.put(idExpiry, expiryKey(1, 99), nil)
		}, "matches no key"},
		{"checkQuota: a charge its keys do not add up to", func(tx *Tx) error {
			return tx.put(idQuota, u32(1000), binary.BigEndian.AppendUint32(u32(5), 5))
		}, "uid 1000 is charged"},
	} {
		t.Run(c.name, func(t *testing.T) {
			db := checkedStore(t)
			if err := db.Update(context.Background(), c.corrupt); err != nil {
				t.Fatal(err)
			}
			if err := db.Check(); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Check = %v, want it to say %q", err, c.want)
			}
		})
	}
}

// checkedStore is a new store holding a keyring 10 that links key 11,
// which passes Check.
func checkedStore(t *testing.T) *DB {
	t.Helper()
	db, err := Open(filepath.Join(t.TempDir(), "keys.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	err = db.Update(context.Background(), func(tx *Tx) error {
		ring := &KeyRecord{Serial: 10, Type: "keyring", Description: "ring", Perm: 0x3f010000, Pins: 1, NextSeq: 1, DataLen: 1}
		child := &KeyRecord{Serial: 11, Type: "user", Description: "child", Perm: 0x3f010000, Links: 1}
		for _, r := range []*KeyRecord{ring, child} {
			if err := tx.PutKey(r); err != nil {
				return err
			}
		}
		return tx.PutLink(10, Link{Seq: 0, Key: 11}, tx.RecordHash(child))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Check(); err != nil {
		t.Fatalf("a consistent store fails Check: %v", err)
	}
	return db
}
