package keystore_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/keyctl-go/keyctl-go/keystore"
)

// testdata/schema-v1 holds a store written by the schema-1 code itself
// (commit 75da01d): a user keyring holding a keyring and a user key, the key
// linked from both. Opening it upgrades it to the current schema in place.
func TestUpgradeFromSchemaV1(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"v1.db", "v1.db.key"} {
		b, err := os.ReadFile(filepath.Join("testdata", "schema-v1", name))
		if err != nil {
			t.Fatal(err)
		}
		// 0600: git does not keep the key file's mode, and a key file open to
		// others is refused.
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "v1.db")
	db, err := keystore.Open(path, keystore.Options{})
	if err != nil {
		t.Fatalf("opening a schema-1 store: %v", err)
	}
	defer db.Close()
	if err := db.Check(); err != nil {
		t.Fatalf("upgraded store is inconsistent: %v", err)
	}
	err = db.View(func(tx *keystore.Tx) error {
		var parents []keystore.Parent
		for p := range tx.Parents(300) {
			parents = append(parents, p)
		}
		if len(parents) != 2 || parents[0] != (keystore.Parent{Ring: 100, Seq: 1}) || parents[1] != (keystore.Parent{Ring: 200, Seq: 0}) {
			t.Errorf("key 300's parents after the upgrade: %+v", parents)
		}
		r, err := tx.Key(300)
		if err != nil || r == nil {
			t.Fatalf("key 300: %v", err)
		}
		if p, err := tx.Payload(r); err != nil || string(p) != "s3cr3t" {
			t.Errorf("payload %q, %v", p, err)
		}
		if tx.Revision() != 1 {
			t.Errorf("revision %d, want the 1 it had", tx.Revision())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The upgraded store works on: unlinking uses the new bucket.
	err = db.Update(context.Background(), func(tx *keystore.Tx) error {
		return tx.DeleteLink(200, keystore.Link{Seq: 0, Key: 300}, "user", "token")
	})
	if err != nil {
		t.Fatal(err)
	}
	db.View(func(tx *keystore.Tx) error {
		n := 0
		for range tx.Parents(300) {
			n++
		}
		if n != 1 {
			t.Errorf("%d parents after an unlink, want 1", n)
		}
		return nil
	})
}

func TestNewerSchemaIsRefused(t *testing.T) {
	// Covered by construction: a store records SchemaVersion and Open
	// refuses anything newer. Prove it with a store from the future.
	db, path := openTemp(t, keystore.Options{})
	db.Close()
	bumpSchema(t, path, keystore.SchemaVersion+1)
	if _, err := keystore.Open(path, keystore.Options{}); err == nil {
		t.Fatal("a store of a newer schema was opened")
	}
}
