package keystore_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
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

// testdata/schema-v2 holds a store written through package keyring by the
// schema-2 code (commit 09f470b): uid 1000's user keyring holding a user
// key "token", a keyring "child" that links the token too and holds a
// logon key, a user key with a timeout, and uid 1000's persistent keyring.
// manifest names their serials. Opening it moves everything into the rows
// of schema 3 under the same serials, then to schema 4.
func TestUpgradeFromSchemaV2(t *testing.T) { testUpgradeFrom(t, "v2") }

// testdata/schema-v3 holds the same keys written by the schema-3 code
// (commit 4cd957e), which had no write-ahead log.
func TestUpgradeFromSchemaV3(t *testing.T) { testUpgradeFrom(t, "v3") }

func testUpgradeFrom(t *testing.T, version string) {
	dir := t.TempDir()
	for _, name := range []string{version + ".db", version + ".db.key"} {
		b, err := os.ReadFile(filepath.Join("testdata", "schema-"+version, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	manifest, err := os.ReadFile(filepath.Join("testdata", "schema-"+version, "manifest"))
	if err != nil {
		t.Fatal(err)
	}
	serial := map[string]uint32{}
	for _, line := range strings.Split(strings.TrimSpace(string(manifest)), "\n") {
		name, num, _ := strings.Cut(line, " ")
		n, err := strconv.ParseUint(num, 10, 32)
		if err != nil {
			t.Fatalf("manifest line %q: %v", line, err)
		}
		serial[name] = uint32(n)
	}

	path := filepath.Join(dir, version+".db")
	db, err := keystore.Open(path, keystore.Options{})
	if err != nil {
		t.Fatalf("opening a schema-%s store: %v", version, err)
	}
	defer db.Close()
	if err := db.Check(); err != nil {
		t.Fatalf("upgraded store is inconsistent: %v", err)
	}
	links := func(tx *keystore.Tx, ring uint32) []uint32 {
		var keys []uint32
		for l := range tx.Links(ring) {
			keys = append(keys, l.Key)
		}
		return keys
	}
	err = db.View(func(tx *keystore.Tx) error {
		if got, want := links(tx, serial["user"]), []uint32{serial["token"], serial["child"], serial["timed"], serial["persistent"]}; !slices.Equal(got, want) {
			t.Errorf("user keyring holds %v, want %v in that order", got, want)
		}
		if got, want := links(tx, serial["child"]), []uint32{serial["token"], serial["logon"]}; !slices.Equal(got, want) {
			t.Errorf("child keyring holds %v, want %v", got, want)
		}
		for name, want := range map[string]string{"token": "s3cr3t", "logon": "hunter2", "timed": "tick"} {
			r, err := tx.Key(serial[name])
			if err != nil || r == nil {
				t.Fatalf("%s: %v", name, err)
			}
			if p, err := tx.Payload(r); err != nil || string(p) != want {
				t.Errorf("%s's payload %q, %v; want %q", name, p, err, want)
			}
		}
		if r, _ := tx.Key(serial["token"]); r.Links != 2 || r.Description != "token" || r.UID != 1000 {
			t.Errorf("token's record after the upgrade: %+v", r)
		}
		if r, _ := tx.Key(serial["user"]); r.DataLen != 4 || r.NextSeq != 4 {
			t.Errorf("user keyring counts %d links, next position %d; want 4 and 4", r.DataLen, r.NextSeq)
		}
		if r, _ := tx.Key(serial["timed"]); r.Expiry == 0 {
			t.Error("the timed key lost its expiry")
		}
		if l, ok := tx.Lookup(serial["child"], "logon", "svc:pw"); !ok || l.Key != serial["logon"] {
			t.Errorf("lookup of the logon key in child: %+v, %t", l, ok)
		}
		if got := tx.Name(keystore.NamePersistent, "1000"); got != serial["persistent"] {
			t.Errorf("persistent keyring name → %d, want %d", got, serial["persistent"])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// New keys get serials no old key has.
	err = db.Update(context.Background(), func(tx *keystore.Tx) error {
		for range 100 {
			s, err := tx.NewSerial()
			if err != nil {
				return err
			}
			for name, old := range serial {
				if s == old {
					t.Errorf("new serial %d is %s's", s, name)
				}
			}
			if err := tx.PutKey(&keystore.KeyRecord{Serial: s, Type: "user", Description: "new", UID: 1000, Pins: 1}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Check(); err != nil {
		t.Fatalf("store inconsistent after new keys: %v", err)
	}
}
