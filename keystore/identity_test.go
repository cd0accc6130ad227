//go:build linux

package keystore_test

import (
	"bytes"
	"hash/crc32"
	"maps"
	"os"
	"strings"
	"testing"

	"github.com/google/uuid"
	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keystore"
)

// wantIdentity checks that the closed store at path is store id
// everywhere it says so: reopened, its UUID; its key file, bound to it;
// its log's header in force, format 3, naming it.
func wantIdentity(t *testing.T, path string, id uuid.UUID) {
	t.Helper()
	db, err := keystore.Open(path, keystore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := db.UUID(); got != id {
		t.Errorf("reopened, the store is %v, want %v", got, id)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	key := mustRead(t, path+".key")
	if len(key) != 52 || uuid.UUID(key[32:48]) != id || crc32.Checksum(key[32:48], crc32.MakeTable(crc32.Castagnoli)) != be32(key[48:]) {
		t.Errorf("the key file is %d bytes, bound to % x; want 52, bound to %v", len(key), key[min(32, len(key)):], id)
	}
	wal := mustRead(t, path+".wal")
	slots := walSlots(t, path)
	if len(slots) == 0 || slots[0].format != 3 {
		t.Fatalf("the log's headers: %+v; want format 3 in force", slots)
	}
	at := int(slots[0].gen%2) * 4096
	if got := uuid.UUID(wal[at+120 : at+136]); got != id {
		t.Errorf("the log's header in force names store %v, want %v", got, id)
	}
}

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// A new store is given a random UUID, kept for its life, in its meta
// bucket, its key file and its log; another store has another.
func TestNewStoreHasAUUID(t *testing.T) {
	db, path := openTemp(t, keystore.Options{})
	id := db.UUID()
	if id == uuid.Nil || id.Version() != 4 {
		t.Fatalf("a new store's UUID is %v, want a random (version 4) one", id)
	}
	putKey(t, db, userKey(1000), []byte("p"))
	db.Close()
	wantIdentity(t, path, id)
	other, _ := openTemp(t, keystore.Options{})
	if other.UUID() == id {
		t.Errorf("two new stores share the UUID %v", id)
	}
}

// A passphrase store has a UUID too, and no key file to bind.
func TestPassphraseStoreHasAUUID(t *testing.T) {
	opts := keystore.Options{Passphrase: []byte("correct horse"), Argon2: cheapArgon2()}
	db, path := openTemp(t, opts)
	id := db.UUID()
	db.Close()
	again, err := keystore.Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if id == uuid.Nil || again.UUID() != id {
		t.Errorf("the passphrase store is %v, reopened %v", id, again.UUID())
	}
}

// The log of another store, closed cleanly (nothing to recover), put
// beside a store is refused with ErrCorrupt naming both files and both
// stores, and neither file is changed: the next commit would have
// overwritten the other store's log without a word.
func TestCleanLogOfAnotherStoreIsRefused(t *testing.T) {
	dbA, pathA := openTemp(t, keystore.Options{})
	putKey(t, dbA, userKey(1000), []byte("a"))
	idA := dbA.UUID()
	dbA.Close()
	dbB, pathB := openTemp(t, keystore.Options{})
	putKey(t, dbB, userKey(1000), []byte("b"))
	idB := dbB.UUID()
	dbB.Close()

	if err := os.WriteFile(pathB+".wal", mustRead(t, pathA+".wal"), 0o600); err != nil {
		t.Fatal(err)
	}
	before := readStoreFiles(t, pathB)
	_, err := keystore.Open(pathB, keystore.Options{})
	wantErr(t, err, keystore.ErrCorrupt, unix.EBADMSG)
	for _, s := range []string{pathB + ".wal", pathB + " ", idA.String(), idB.String()} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("the refusal %q does not name %q", err, s)
		}
	}
	if after := readStoreFiles(t, pathB); !maps.EqualFunc(before, after, bytes.Equal) {
		t.Error("the refused open changed the store's files")
	}
}

// A key file bound to another store, which does not unwrap this one's
// data key, is refused with ErrWrongKey naming the key file, the store
// and both UUIDs.
func TestKeyFileOfAnotherStoreIsRefused(t *testing.T) {
	dbA, pathA := openTemp(t, keystore.Options{})
	idA := dbA.UUID()
	dbA.Close()
	dbB, pathB := openTemp(t, keystore.Options{})
	idB := dbB.UUID()
	dbB.Close()

	_, err := keystore.Open(pathB, keystore.Options{KeyFile: pathA + ".key"})
	wantErr(t, err, keystore.ErrWrongKey, unix.EKEYREJECTED)
	for _, s := range []string{pathA + ".key", pathB + " ", idA.String(), idB.String()} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("the refusal %q does not name %q", err, s)
		}
	}
}

// A key file made before stores had a UUID, KeySize bytes, opens its
// store and is bound to it, its key untouched; one the opener may not
// write stays unbound and still opens the store.
func TestUnboundKeyFileIsBound(t *testing.T) {
	db, path := openTemp(t, keystore.Options{})
	id := db.UUID()
	putKey(t, db, userKey(1000), []byte("p"))
	db.Close()
	key := mustRead(t, path+".key")
	if err := os.WriteFile(path+".key", key[:keystore.KeySize], 0o600); err != nil {
		t.Fatal(err)
	}
	// Read-only: it stays unbound, and opens.
	if err := os.Chmod(path+".key", 0o400); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 { // root writes it anyway
		db, err := keystore.Open(path, keystore.Options{})
		if err != nil {
			t.Fatalf("an unbound read-only key file: %v", err)
		}
		db.Close()
		if got := mustRead(t, path+".key"); len(got) != keystore.KeySize {
			t.Errorf("a read-only key file became %d bytes", len(got))
		}
	}
	if err := os.Chmod(path+".key", 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := keystore.Open(path, keystore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if got := mustRead(t, path+".key"); !bytes.Equal(got, key) {
		t.Errorf("the key file, opened unbound, is % x; want % x, the key bound to %v", got, key, id)
	}
	// A binding cut short by a crash reads as none, and is bound again.
	torn := append(key[:keystore.KeySize:keystore.KeySize], make([]byte, 20)...)
	if err := os.WriteFile(path+".key", torn, 0o600); err != nil {
		t.Fatal(err)
	}
	wantIdentity(t, path, id)
}

// A key file that unwraps the store's data key is its key whatever its
// binding says: a store made with another's key file (Options.KeyFile)
// opens with it, and the key file stays bound to the store it was made
// for.
func TestSharedKeyFileOpensBothStores(t *testing.T) {
	dbA, pathA := openTemp(t, keystore.Options{})
	idA := dbA.UUID()
	dbA.Close()
	shared := keystore.Options{KeyFile: pathA + ".key"}
	dbB, pathB := openTemp(t, shared)
	putKey(t, dbB, userKey(1000), []byte("b"))
	dbB.Close()
	again, err := keystore.Open(pathB, shared)
	if err != nil {
		t.Fatalf("a store opened with the key file it was made with: %v", err)
	}
	again.Close()
	if key := mustRead(t, pathA+".key"); uuid.UUID(key[32:48]) != idA {
		t.Errorf("the shared key file is bound to %x, want %v", key[32:48], idA)
	}
}
