//go:build linux

package keystore_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"
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
	// With DeferWrite too: the file is opened for writing at once, and the
	// schema, not the read-only file, is what refuses the store.
	db, path := openTemp(t, keystore.Options{})
	db.Close()
	bumpSchema(t, path, keystore.SchemaVersion+1)
	for _, deferWrite := range []bool{false, true} {
		_, err := keystore.Open(path, keystore.Options{DeferWrite: deferWrite})
		if !errors.Is(err, unix.EPROTONOSUPPORT) {
			t.Errorf("opening a store of a newer schema (DeferWrite %v): %v, want EPROTONOSUPPORT", deferWrite, err)
		}
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
// (commit 96ce306, with generator_test.go), and 30 user keys "bulk-N" in
// the persistent keyring, left as a power failure may leave them: the file
// as it was at the journal's first checkpoint, every change in the
// format-1 log. Opening it replays that log with the format-1 reader.
func TestUpgradeFromSchemaV4(t *testing.T) { testUpgradeFrom(t, "v4") }

// testdata/schema-v4-freepages holds the same keys written by the
// schema-4 code (commit 96ce306), and more: uid 1000's named session
// keyring "v4-named-session-for-grep" holding a key described
// "v4-principal-alice@EXAMPLE.COM", keys added and unlinked (destroyed)
// before a clean close, so that bbolt's free pages and the log's stale
// records hold their descriptions, and, after the store was opened again,
// "v4-in-the-log-carol@EXAMPLE.COM" added and another added and unlinked:
// the files were copied while the store was open, as a crash of the
// process leaves them, with those last changes in the format-1 log alone.
func TestUpgradeFromSchemaV4FreePages(t *testing.T) { testUpgradeFrom(t, "v4-freepages") }

// testdata/schema-v5 holds the same keys written by the schema-5 code
// (commit 4732d88, with generator_test.go), with a named session, deleted
// keys and last changes as in schema-v4-freepages, left as a power
// failure may leave them: the file as it was at the journal's first
// checkpoint after a clean close and a reopen, the last changes in the
// format-2 log alone.
func TestUpgradeFromSchemaV5(t *testing.T) { testUpgradeFrom(t, "v5") }

// testdata/schema-v6 holds the same keys written by the schema-6 code
// (commit a3830b8, with generator_test.go), left as schema-v5 is. The
// upgrade to 7 gives the store its UUID, in place.
func TestUpgradeFromSchemaV6(t *testing.T) { testUpgradeFrom(t, "v6") }

// testStores are the checked-in stores, one for each schema version
// before the current one, two of version 4.
var testStores = []string{"v1", "v2", "v3", "v4", "v4-freepages", "v5", "v6"}

// rewrittenStores are those of testStores that the upgrade writes into a
// new file (schema 5 and older: the step to 6 seals their descriptions).
var rewrittenStores = testStores[:len(testStores)-1]

// The descriptions and names the checked-in stores hold: none of them may
// be left in an upgraded store's files.
var testStoreSecrets = map[string][]string{
	"v1": {"token", "_uid.1000"},
	"v2": {"token", "child", "svc:pw", "timed", "_uid.1000", "_uid_ses.1000", "_persistent.1000"},
	"v4-freepages": {"token", "child", "svc:pw", "timed", "_uid.1000", "_uid_ses.1000", "_persistent.1000",
		"v4-named-session-for-grep", "v4-principal-alice", "v4-deleted-bob", "v4-in-the-log-carol",
		"v4-deleted-in-the-log-dave", "EXAMPLE.COM"},
	"v5": {"token", "child", "svc:pw", "timed", "_uid.1000", "_uid_ses.1000", "_persistent.1000",
		"v5-named-session-for-grep", "v5-principal-alice", "v5-deleted-bob", "v5-in-the-log-carol",
		"v5-deleted-in-the-log-dave", "EXAMPLE.COM"},
	"v6": {"token", "child", "svc:pw", "timed", "_uid.1000", "_uid_ses.1000", "_persistent.1000",
		"v6-named-session-for-grep", "v6-principal-alice", "v6-deleted-bob", "v6-in-the-log-carol",
		"v6-deleted-in-the-log-dave", "EXAMPLE.COM"},
}

func init() {
	testStoreSecrets["v3"] = testStoreSecrets["v2"]
	testStoreSecrets["v4"] = append(slices.Clone(testStoreSecrets["v2"]), "bulk-")
}

// testStoreLogged reports whether the checked-in store of version has a
// log with something to recover (schema 4 on).
func testStoreLogged(version string) bool {
	_, err := os.Stat(filepath.Join("testdata", "schema-"+version, version+".db.wal"))
	return err == nil
}

// A store's log is recovered before the upgrade, in its own format, and
// retired in a way the old program understands: once its records are
// replayed, its header in force says there is nothing to recover, so a
// program of the store's own schema, finding it so after a crash before
// the upgrade took the file's place, opens the store as it is. Here the
// upgrade stops at the wrong key file, after the recovery. Once upgraded,
// the log is format 3 (emptied first, if the upgrade rewrote the store).
func TestOldLogIsRetired(t *testing.T) {
	wrong := wrongKeyFile(t)
	for _, tc := range []struct {
		version string
		format  byte
		schema  uint32
	}{{"v4", 1, 4}, {"v4-freepages", 1, 4}, {"v5", 2, 5}, {"v6", 2, 6}} {
		t.Run(tc.version, func(t *testing.T) {
			path := copyTestStore(t, tc.version)
			if in := walSlots(t, path); in[0].format != tc.format || in[0].txid == 0 {
				t.Fatalf("the test store's log: %+v; want a format-%d checkpoint in force", in, tc.format)
			}
			_, err := keystore.Open(path, keystore.Options{KeyFile: wrong})
			wantErr(t, err, keystore.ErrWrongKey, unix.EKEYREJECTED)
			if in := walSlots(t, path); in[0].format != tc.format || in[0].txid != 0 {
				t.Errorf("recovered, the log is %+v; want a clean format-%d header in force", in, tc.format)
			}
			if v := storedSchema(t, path); v != tc.schema {
				t.Errorf("recovered but not upgraded, the store says schema %d, want %d", v, tc.schema)
			}

			db, err := keystore.Open(path, keystore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			// A store rewritten by its upgrade (schema 5 and older) has its
			// log emptied; schema 6's upgrade is in place, and the log goes
			// on with a newer header.
			if in := walSlots(t, path); (tc.schema < 6 && len(in) != 1) || in[0].format != 3 || in[0].txid != 0 {
				t.Errorf("once upgraded the log is %+v; want a clean format-3 header in force (and no other, after a rewrite)", in)
			}
			wantTestStoreKeys(t, db, tc.version)
			putKey(t, db, userKey(4242), []byte("after the upgrade"))
			if in := walSlots(t, path); in[0].format != 3 || in[0].txid == 0 {
				t.Errorf("after a commit the log is %+v; want a format-3 checkpoint in force", in)
			}
			crashed := keystore.CopyStoreFiles(t, path)
			wantKeys(t, crashed, map[uint32][]byte{4242: []byte("after the upgrade")})
		})
	}
}

// A store whose log is damaged is refused before anything is written, at
// an old schema as at the current one: the upgrade never rewrites the
// damage away, and the files stay as they were for a repair.
func TestUpgradeRefusesADamagedLog(t *testing.T) {
	path := copyTestStore(t, "v5")
	wal, err := os.ReadFile(path + ".wal")
	if err != nil {
		t.Fatal(err)
	}
	// The body of the first record: the second says the log was synced
	// past it.
	const firstBody = 8192 + 24
	wal[firstBody+3] ^= 0x40
	if err := os.WriteFile(path+".wal", wal, 0o600); err != nil {
		t.Fatal(err)
	}
	before := readStoreFiles(t, path)
	_, err = keystore.Open(path, keystore.Options{})
	wantErr(t, err, keystore.ErrCorrupt, unix.EBADMSG)
	if !strings.Contains(err.Error(), path+".wal") || !strings.Contains(err.Error(), "byte 8192") {
		t.Errorf("the refusal %q does not name the log and the byte", err)
	}
	if after := readStoreFiles(t, path); !maps.EqualFunc(before, after, bytes.Equal) {
		t.Error("opening a store with a damaged log changed its files")
	}
	if _, err := os.Stat(path + ".upgrade"); err == nil {
		t.Error("opening a store with a damaged log began an upgrade")
	}
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

// storedSchema is the schema version the database file at path says.
func storedSchema(t *testing.T, path string) uint32 {
	t.Helper()
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	var v uint32
	bdb.View(func(tx *bolt.Tx) error {
		v = binary.BigEndian.Uint32(tx.Bucket([]byte("meta")).Get([]byte("schema")))
		return nil
	})
	return v
}

// copyTestStore copies the checked-in store of a version (its database,
// key file, and log if it has one) into a fresh directory and returns the
// database's path there.
func copyTestStore(t *testing.T, version string) string {
	t.Helper()
	dir := t.TempDir()
	for _, suffix := range []string{".db", ".db.key", ".db.wal"} {
		b, err := os.ReadFile(filepath.Join("testdata", "schema-"+version, version+suffix))
		if errors.Is(err, fs.ErrNotExist) && suffix == ".db.wal" {
			continue // a log came with schema 4
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
	db, err := keystore.Open(path, keystore.Options{})
	if err != nil {
		t.Fatalf("opening a schema-%s store: %v", version, err)
	}
	defer db.Close()
	if err := db.Check(); err != nil {
		t.Fatalf("upgraded store is inconsistent: %v", err)
	}
	id := db.UUID()
	if id == uuid.Nil || id.Version() != 4 {
		t.Errorf("the upgraded store's UUID is %v, want a random one", id)
	}
	wantNoneInStore(t, path, testStoreSecrets[version]...)
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("the upgraded file: %v, %v; want mode 0600", st.Mode(), err)
	}
	serial := wantTestStoreKeys(t, db, version)
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
	wantIdentity(t, path, id)
}

// wantTestStoreKeys checks that db, opened from the checked-in store of
// version (v2 on), holds the keys its manifest names, as they were, and
// returns their serials by name.
func wantTestStoreKeys(t *testing.T, db *keystore.DB, version string) map[string]uint32 {
	t.Helper()
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
		// What only the log held survived: it was replayed, then sealed.
		switch version {
		case "v4":
			var bulk int
			for l := range tx.Links(serial["persistent"]) {
				if r, _ := tx.Key(l.Key); r != nil && strings.HasPrefix(r.Description, "bulk-") {
					bulk++
				}
			}
			if bulk != 30 {
				t.Errorf("%d of the 30 keys the log held are in the store", bulk)
			}
		case "v4-freepages", "v5", "v6":
			prefix := version[:2]
			if got := tx.Name(keystore.NameSession, prefix+"-named-session-for-grep"); got != serial["session"] {
				t.Errorf("named session → %d, want %d", got, serial["session"])
			}
			for name, desc := range map[string]string{"alice": prefix + "-principal-alice@EXAMPLE.COM", "carol": prefix + "-in-the-log-carol@EXAMPLE.COM"} {
				l, ok := tx.Lookup(serial["session"], tx.DescHash("user", desc))
				if r, err := tx.Key(l.Key); !ok || l.Key != serial[name] || err != nil || r.Description != desc {
					t.Errorf("lookup of %s in the session: %+v, %t; %+v, %v", name, l, ok, r, err)
				}
			}
			if l, ok := tx.Lookup(serial["session"], tx.DescHash("user", prefix+"-deleted-in-the-log-dave@EXAMPLE.COM")); ok {
				t.Errorf("the key unlinked in the log is in the session: %+v", l)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return serial
}

// wrongKeyFile makes a key file that is not any test store's.
func wrongKeyFile(t *testing.T) string {
	t.Helper()
	wrong := filepath.Join(t.TempDir(), "wrong.key")
	kek, err := keystore.CreateKeyFile(wrong)
	if err != nil {
		t.Fatal(err)
	}
	kek.Wipe()
	return wrong
}

// An upgrade under the wrong key file fails as any open does, with
// ErrWrongKey, and leaves the store as it was: the rewrite has not begun.
// (A log is recovered into the file before the key is asked for, as
// recovery needs no key: a store with a log is left recovered, at its old
// schema, TestOldLogIsRetired.) With the right key it then upgrades.
func TestUpgradeWithTheWrongKeyChangesNothing(t *testing.T) {
	wrong := wrongKeyFile(t)
	for _, version := range testStores {
		t.Run(version, func(t *testing.T) {
			path := copyTestStore(t, version)
			before := readStoreFiles(t, path)
			_, err := keystore.Open(path, keystore.Options{KeyFile: wrong})
			wantErr(t, err, keystore.ErrWrongKey, unix.EKEYREJECTED)
			after := readStoreFiles(t, path)
			if testStoreLogged(version) {
				for _, suffix := range []string{"", ".wal"} {
					delete(before, suffix)
					delete(after, suffix)
				}
			}
			if !maps.EqualFunc(before, after, bytes.Equal) {
				t.Error("a failed upgrade changed the store's files")
			}
			if _, err := os.Stat(path + ".upgrade"); err == nil {
				t.Error("a failed upgrade left its new file")
			}
			db, err := keystore.Open(path, keystore.Options{})
			if err != nil {
				t.Fatalf("with the right key after a wrong one: %v", err)
			}
			defer db.Close()
			if err := db.Check(); err != nil {
				t.Error(err)
			}
			if version != "v1" {
				wantTestStoreKeys(t, db, version)
			}
			wantNoneInStore(t, path, testStoreSecrets[version]...)
		})
	}
}

// A crash during an upgrade leaves the old store and a half-written new
// file; the next open upgrades again, over it.
func TestUpgradeAfterACrashedUpgrade(t *testing.T) {
	for _, version := range rewrittenStores {
		t.Run(version, func(t *testing.T) {
			path := copyTestStore(t, version)
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
			wantNoneInStore(t, path, testStoreSecrets[version]...)
		})
	}
}

// The old file's blocks are zeroed once the upgraded file has taken its
// name, unless another name still links it: a hard link, a backup made
// with ln, is the user's, and stays whole: it opens, and upgrades in turn.
func TestUpgradeZeroesTheOldFileUnlessLinked(t *testing.T) {
	for _, version := range rewrittenStores {
		t.Run(version, func(t *testing.T) {
			path := copyTestStore(t, version)
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

			path = copyTestStore(t, version)
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
			got, err := os.ReadFile(backup)
			if err != nil {
				t.Fatal(err)
			}
			// A store with a log was recovered into its file before the
			// upgrade: the link holds the recovered store, which opens
			// without the log.
			if !testStoreLogged(version) && !bytes.Equal(got, want) {
				t.Error("the upgrade changed a hard link to the old file")
			}
			if err := os.WriteFile(backup+".key", mustRead(t, path+".key"), 0o600); err != nil {
				t.Fatal(err)
			}
			db, err = keystore.Open(backup, keystore.Options{})
			if err != nil {
				t.Fatalf("the hard link to the old file does not open: %v", err)
			}
			defer db.Close()
			if err := db.Check(); err != nil {
				t.Error(err)
			}
			if version != "v1" {
				wantTestStoreKeys(t, db, version)
			}
		})
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
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
