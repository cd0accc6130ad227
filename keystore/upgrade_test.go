package keystore_test

import (
	"bytes"
	"context"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keystore"
)

// testdata/schema-v1 holds a store written by the schema-1 code itself
// (commit 75da01d): a user keyring holding a keyring and a user key, the key
// linked from both. Opening it upgrades it to the current schema.
func TestUpgradeFromSchemaV1(t *testing.T) {
	path := copyTestStore(t, "v1")
	db, err := keystore.Open(path, keystore.Options{})
	if err != nil {
		t.Fatalf("opening a schema-1 store: %v", err)
	}
	defer db.Close()
	if err := db.Check(); err != nil {
		t.Fatalf("upgraded store is inconsistent: %v", err)
	}
	wantNoneInStore(t, path, "token", "_uid.1000")
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
		return tx.DeleteLink(200, keystore.Link{Seq: 0, Key: 300}, tx.DescHash("user", "token"))
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

// testdata/schema-v4 holds the same keys written by the schema-4 code
// (commit 96ce306), and more: uid 1000's named session keyring
// "v4-named-session-for-grep" holding a key described
// "v4-principal-alice@EXAMPLE.COM", keys added and unlinked (destroyed)
// before a clean close, so that bbolt's free pages and the log's stale
// records hold their descriptions, and, after the store was opened again,
// "v4-in-the-log-carol@EXAMPLE.COM" added and another added and unlinked:
// the files were copied while the store was open, as a crash leaves them,
// with those last changes in the log alone.
func TestUpgradeFromSchemaV4(t *testing.T) { testUpgradeFrom(t, "v4") }

// The descriptions and names the checked-in stores hold: none of them may
// be left in an upgraded store's files.
var testStoreSecrets = map[string][]string{
	"v2": {"token", "child", "svc:pw", "timed", "_uid.1000", "_uid_ses.1000", "_persistent.1000"},
	"v4": {"token", "child", "svc:pw", "timed", "_uid.1000", "_uid_ses.1000", "_persistent.1000",
		"v4-named-session-for-grep", "v4-principal-alice", "v4-deleted-bob", "v4-in-the-log-carol",
		"v4-deleted-in-the-log-dave", "EXAMPLE.COM"},
}

func init() { testStoreSecrets["v3"] = testStoreSecrets["v2"] }

// copyTestStore copies the checked-in store of a version (its database,
// key file, and log if it has one) into a fresh directory and returns the
// database's path there.
func copyTestStore(t *testing.T, version string) string {
	t.Helper()
	dir := t.TempDir()
	for _, suffix := range []string{".db", ".db.key", ".db.wal"} {
		b, err := os.ReadFile(filepath.Join("testdata", "schema-"+version, version+suffix))
		if os.IsNotExist(err) && suffix == ".db.wal" {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		// 0600: git does not keep the key file's mode, and a key file open to
		// others is refused.
		if err := os.WriteFile(filepath.Join(dir, version+suffix), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, version+".db")
}

// wantNoneInStore fails t if any of secrets is a byte string of the
// store's database or log, or if a file the upgrade writes is left.
func wantNoneInStore(t *testing.T, path string, secrets ...string) {
	t.Helper()
	for _, name := range []string{path, path + ".wal"} {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range secrets {
			if n := bytes.Count(b, []byte(s)); n > 0 {
				t.Errorf("%s holds %q %d times", filepath.Base(name), s, n)
			}
		}
	}
	if _, err := os.Stat(path + ".upgrade"); err == nil {
		t.Errorf("%s.upgrade is left behind", filepath.Base(path))
	}
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
	wantNoneInStore(t, path, testStoreSecrets[version]...)
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("the upgraded file: %v, %v; want mode 0600", st.Mode(), err)
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
		if l, ok := tx.Lookup(serial["child"], tx.DescHash("logon", "svc:pw")); !ok || l.Key != serial["logon"] {
			t.Errorf("lookup of the logon key in child: %+v, %t", l, ok)
		}
		if got := tx.Name(keystore.NamePersistent, "1000"); got != serial["persistent"] {
			t.Errorf("persistent keyring name → %d, want %d", got, serial["persistent"])
		}
		if version != "v4" {
			return nil
		}
		// What only the log held survived: it was replayed, then sealed.
		if got := tx.Name(keystore.NameSession, "v4-named-session-for-grep"); got != serial["session"] {
			t.Errorf("named session → %d, want %d", got, serial["session"])
		}
		for name, desc := range map[string]string{"alice": "v4-principal-alice@EXAMPLE.COM", "carol": "v4-in-the-log-carol@EXAMPLE.COM"} {
			l, ok := tx.Lookup(serial["session"], tx.DescHash("user", desc))
			if r, err := tx.Key(l.Key); !ok || l.Key != serial[name] || err != nil || r.Description != desc {
				t.Errorf("lookup of %s in the session: %+v, %t; %+v, %v", name, l, ok, r, err)
			}
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
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	wantNoneInStore(t, path, testStoreSecrets[version]...)
}

// An upgrade under the wrong key file fails as any open does, with
// ErrWrongKey, and leaves the store's files as they were: the rewrite has
// not begun. (A log is replayed into the file before the key is asked
// for, as recovery needs no key: the v4 store's file changes, its log
// does not.)
func TestUpgradeWithTheWrongKeyChangesNothing(t *testing.T) {
	wrong := filepath.Join(t.TempDir(), "wrong.key")
	kek, err := keystore.CreateKeyFile(wrong)
	if err != nil {
		t.Fatal(err)
	}
	kek.Wipe()
	for _, version := range []string{"v3", "v4"} {
		path := copyTestStore(t, version)
		before := readStoreFiles(t, path)
		_, err = keystore.Open(path, keystore.Options{KeyFile: wrong})
		wantErr(t, err, keystore.ErrWrongKey, unix.EKEYREJECTED)
		after := readStoreFiles(t, path)
		if version == "v4" {
			delete(before, "")
			delete(after, "")
		}
		if !maps.EqualFunc(before, after, bytes.Equal) {
			t.Errorf("%s: a failed upgrade changed the store's files", version)
		}
		if _, err := os.Stat(path + ".upgrade"); err == nil {
			t.Errorf("%s: a failed upgrade left its new file", version)
		}
		db, err := keystore.Open(path, keystore.Options{})
		if err != nil {
			t.Fatalf("%s: with the right key after a wrong one: %v", version, err)
		}
		if err := db.Check(); err != nil {
			t.Error(err)
		}
		db.Close()
	}
}

// A crash during an upgrade leaves the old store and a half-written new
// file; the next open upgrades again, over it.
func TestUpgradeAfterACrashedUpgrade(t *testing.T) {
	path := copyTestStore(t, "v3")
	if err := os.WriteFile(path+".upgrade", bytes.Repeat([]byte("half-written "), 1000), 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := keystore.Open(path, keystore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Check(); err != nil {
		t.Fatal(err)
	}
	wantNoneInStore(t, path, testStoreSecrets["v3"]...)
}

// The old file's blocks are zeroed once the upgraded file has taken its
// name, unless another name still links it: a hard link, a backup made
// with ln, is the user's, and stays whole.
func TestUpgradeZeroesTheOldFileUnlessLinked(t *testing.T) {
	path := copyTestStore(t, "v4")
	old, err := os.Open(path) // a way to read the old file once it has no name
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	db, err := keystore.Open(path, keystore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	b, err := io.ReadAll(old)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) == 0 || len(bytes.Trim(b, "\x00")) != 0 {
		t.Errorf("the old file, %d bytes, is not all zeros after the upgrade", len(b))
	}

	path = copyTestStore(t, "v3") // no log: opening it writes nothing before the upgrade
	backup := filepath.Join(t.TempDir(), "backup.db")
	if err := os.Link(path, backup); err != nil {
		t.Skipf("no hard links here: %v", err)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	db, err = keystore.Open(path, keystore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if got, err := os.ReadFile(backup); err != nil || !bytes.Equal(got, want) {
		t.Errorf("the upgrade changed a hard link to the old file (%v)", err)
	}
}

// readStoreFiles reads the database, log and key file at path.
func readStoreFiles(t *testing.T, path string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	for _, suffix := range []string{"", ".wal", ".key"} {
		b, err := os.ReadFile(path + suffix)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		files[suffix] = b
	}
	return files
}
