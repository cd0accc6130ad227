package keystore_test

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"io/fs"
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
// of schema 3 under the same serials, then on to the current schema.
func TestUpgradeFromSchemaV2(t *testing.T) { testUpgradeFrom(t, "v2") }

// testdata/schema-v3 holds the same keys written by the schema-3 code
// (commit 4cd957e), which had no write-ahead log.
func TestUpgradeFromSchemaV3(t *testing.T) { testUpgradeFrom(t, "v3") }

// testdata/schema-v4 holds the same keys written by the schema-4 code
// (commit 96ce306, with generator_test.go), and 30 user keys in the
// persistent keyring, left as a power failure may leave them: the file as
// it was at the journal's first checkpoint, every change in the format-1
// log. Opening it replays that log with the format-1 reader.
func TestUpgradeFromSchemaV4(t *testing.T) { testUpgradeFrom(t, "v4") }

// A schema-4 store's log is retired in a way a schema-4 program
// understands: once its records are replayed, its header in force is a
// clean format-1 header, so such a program finds nothing to recover (and
// then refuses schema 5), whatever the upgraded store does next; the
// journal then starts format 2 in the other slot.
func TestSchemaV4LogIsRetired(t *testing.T) {
	path := copyTestStore(t, "v4")
	if in := walSlots(t, path); in[0].format != 1 || in[0].txid == 0 {
		t.Fatalf("the test store's log: %+v; want a format-1 checkpoint in force", in)
	}
	db, err := keystore.Open(path, keystore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	wantV1Clean := func(when string) {
		t.Helper()
		var newest *walSlot
		for _, s := range walSlots(t, path) {
			if s.format == 1 && (newest == nil || s.gen > newest.gen) {
				newest = &s
			}
		}
		if newest != nil && newest.txid != 0 {
			t.Fatalf("%s, a schema-4 program would recover from checkpoint %d of the old log", when, newest.txid)
		}
	}
	wantV1Clean("once opened")
	var bulk int
	db.View(func(tx *keystore.Tx) error {
		for l := range tx.Links(1536764704) { // the persistent keyring (manifest)
			if r, _ := tx.Key(l.Key); r != nil && strings.HasPrefix(r.Description, "bulk-") {
				bulk++
			}
		}
		return nil
	})
	if bulk != 30 {
		t.Errorf("%d of the 30 keys the log held are in the store", bulk)
	}
	putKey(t, db, userKey(4242), []byte("after the upgrade"))
	wantV1Clean("after the first commit")
	if in := walSlots(t, path); in[0].format != 2 || in[0].txid == 0 {
		t.Errorf("after a commit the log is %+v; want a format-2 checkpoint in force", in)
	}
	crashed := keystore.CopyStoreFiles(t, path)
	wantKeys(t, crashed, map[uint32][]byte{4242: []byte("after the upgrade")})
}

// walSlot is what a header slot of a log says, if it has a magic.
type walSlot struct {
	format    byte
	gen, txid uint64
}

// walSlots are the header slots of the log of the store at path, the one
// of the higher generation first.
func walSlots(t *testing.T, path string) []walSlot {
	t.Helper()
	wal, err := os.ReadFile(path + ".wal")
	if err != nil {
		t.Fatal(err)
	}
	var slots []walSlot
	for _, at := range []int{0, 4096} {
		if len(wal) >= at+24 && string(wal[at:at+7]) == "kgwal\x00\x00" {
			slots = append(slots, walSlot{wal[at+7], binary.LittleEndian.Uint64(wal[at+8:]), binary.LittleEndian.Uint64(wal[at+16:])})
		}
	}
	slices.SortFunc(slots, func(a, b walSlot) int { return cmp.Compare(b.gen, a.gen) })
	return slots
}

// copyTestStore copies the checked-in store of schema version (v1, v2...)
// into a fresh directory and returns its path.
func copyTestStore(t *testing.T, version string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{version + ".db", version + ".db.key", version + ".db.wal"} {
		b, err := os.ReadFile(filepath.Join("testdata", "schema-"+version, name))
		if errors.Is(err, fs.ErrNotExist) && strings.HasSuffix(name, ".wal") {
			continue // only schema 4 had a log
		}
		if err != nil {
			t.Fatal(err)
		}
		// 0600: git does not keep the key file's mode, and a key file open to
		// others is refused.
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, version+".db")
}

func testUpgradeFrom(t *testing.T, version string) {
	path := copyTestStore(t, version)
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
