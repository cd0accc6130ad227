//go:build linux

package keystore_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keystore"
)

// fillAndChange makes n keys, each in its own Update, then replaces the
// payloads of the first half and deletes every fourth key, so that pages
// are freed and reused as well as appended. It returns what each key's
// payload should be, nil for deleted keys.
func fillAndChange(t *testing.T, db *keystore.DB, n uint32) map[uint32][]byte {
	t.Helper()
	want := map[uint32][]byte{}
	for i := range n {
		p := fmt.Appendf(nil, "payload %d", i)
		putKey(t, db, userKey(1000+i), p)
		want[1000+i] = p
	}
	for i := range n / 2 {
		p := fmt.Appendf(nil, "replaced %d", i)
		putKey(t, db, userKey(1000+i), p)
		want[1000+i] = p
	}
	for i := uint32(0); i < n; i += 4 {
		r := userKey(1000 + i)
		if err := db.Update(context.Background(), func(tx *keystore.Tx) error { return tx.DeleteKey(r) }); err != nil {
			t.Fatal(err)
		}
		want[1000+i] = nil
	}
	return want
}

// wantKeys opens the store at path and checks that it holds exactly want
// and passes its consistency check.
func wantKeys(t *testing.T, path string, want map[uint32][]byte) {
	t.Helper()
	db, err := keystore.Open(path, keystore.Options{})
	if err != nil {
		t.Fatalf("reopening: %v", err)
	}
	defer db.Close()
	err = db.View(func(tx *keystore.Tx) error {
		for serial, p := range want {
			r, err := tx.Key(serial)
			if err != nil {
				return err
			}
			if p == nil {
				if r != nil {
					t.Errorf("key %d is back after it was deleted", serial)
				}
				continue
			}
			if r == nil {
				t.Errorf("key %d is lost", serial)
				continue
			}
			got, err := tx.Payload(r)
			if err != nil {
				return err
			}
			if !bytes.Equal(got, p) {
				t.Errorf("key %d has payload %q, want %q", serial, got, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Check(); err != nil {
		t.Errorf("the recovered store fails its check: %v", err)
	}
}

// A crash of the process leaves bbolt's file as up to date as the log
// (bbolt wrote its pages, unsynced): recovery puts the checkpoint back and
// replays the log over it, and every acknowledged change is there.
func TestCrashRecoveryReplaysTheLog(t *testing.T) {
	db, path := openTemp(t, keystore.Options{})
	want := fillAndChange(t, db, 60)
	crashed := keystore.CopyStoreFiles(t, path)
	wantKeys(t, crashed, want)
	// Recovery leaves a store that recovers again, and that takes writes.
	wantKeys(t, crashed, want)
}

// A power failure may lose any page bbolt wrote since the checkpoint, and
// keep any other: here none of them, and then only the later meta pages,
// which point at pages that never reached the disk. Without the log's
// checkpoint bbolt would open that second file on a tree of garbage.
func TestPowerLossRecoveryFromTheCheckpoint(t *testing.T) {
	defer keystore.SetWALGrowth(1 << 40)() // the only checkpoint is the journal's first
	db, path := openTemp(t, keystore.Options{})
	atCheckpoint, err := os.ReadFile(path) // Open ends with a checkpoint
	if err != nil {
		t.Fatal(err)
	}
	want := fillAndChange(t, db, 60)
	crashed := keystore.CopyStoreFiles(t, path)
	final, err := os.ReadFile(crashed)
	if err != nil {
		t.Fatal(err)
	}
	pageSize := int(binary.NativeEndian.Uint32(final[24:]))

	if err := os.WriteFile(crashed, atCheckpoint, 0o600); err != nil {
		t.Fatal(err)
	}
	wantKeys(t, keystore.CopyStoreFiles(t, crashed), want)

	torn := append([]byte(nil), atCheckpoint...)
	copy(torn, final[:2*pageSize]) // only the new meta pages reached the disk
	if err := os.WriteFile(crashed, torn, 0o600); err != nil {
		t.Fatal(err)
	}
	wantKeys(t, crashed, want)
}

// A log beside a database it was not written for (another store's, or
// this store's file replaced by a copy) is refused with ErrCorrupt that
// says what to do, and neither file is changed.
func TestLogOfAnotherStoreIsRefused(t *testing.T) {
	dbA, pathA := openTemp(t, keystore.Options{})
	fillAndChange(t, dbA, 10)
	crashedA := keystore.CopyStoreFiles(t, pathA)

	dbB, pathB := openTemp(t, keystore.Options{})
	fillAndChange(t, dbB, 30)
	dbB.Close()
	b, err := os.ReadFile(pathB)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(crashedA, b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = keystore.Open(crashedA, keystore.Options{KeyFile: pathB + ".key"})
	wantErr(t, err, keystore.ErrCorrupt, unix.EBADMSG)
	after, rerr := os.ReadFile(crashedA)
	if rerr != nil {
		t.Fatal(rerr)
	}
	if !bytes.Equal(after, b) {
		t.Error("a refused recovery changed the database file")
	}
	for _, s := range []string{crashedA + ".wal", dbA.UUID().String(), dbB.UUID().String()} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("the error %q does not name %s", err, s)
		}
	}
	// Removing the log, as the error says, opens the store as it is.
	if err := os.Remove(crashedA + ".wal"); err != nil {
		t.Fatal(err)
	}
	db, err := keystore.Open(crashedA, keystore.Options{KeyFile: pathB + ".key"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Check(); err != nil {
		t.Fatal(err)
	}
}

// A store closed cleanly has nothing in its log, so the file may be
// changed by other means (a repair, a restored backup) before the next
// open, and the next open takes it as it is.
func TestCleanCloseLeavesNothingToRecover(t *testing.T) {
	db, path := openTemp(t, keystore.Options{})
	fillAndChange(t, db, 10)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	db2, err := keystore.Open(path, keystore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db2.Close()
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Opening and closing commits nothing: the meta pages are as they were.
	pageSize := int(binary.NativeEndian.Uint32(before[24:]))
	if !bytes.Equal(before[:2*pageSize], after[:2*pageSize]) {
		t.Error("opening and closing a store without changes rewrote its meta pages")
	}
}

// The log is a file of the store like the others: mode 0600, and no
// payload in clear (it holds payloads sealed, as the database does).
func TestLogIsPrivateAndSealed(t *testing.T) {
	db, path := openTemp(t, keystore.Options{})
	secret := []byte("TOP-SECRET-IN-THE-LOG-77a1")
	for i := range uint32(20) {
		putKey(t, db, userKey(1000+i), append(secret, byte(i)))
	}
	crashed := keystore.CopyStoreFiles(t, path) // before Close: the log still holds the records
	raw, err := os.ReadFile(crashed + ".wal")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, []byte("user")) {
		t.Fatal("the log should hold the records' types in clear; the test is not looking at the right bytes")
	}
	if bytes.Contains(raw, secret[:16]) {
		t.Fatal("the write-ahead log holds a payload in clear")
	}
	st, err := os.Stat(path + ".wal")
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode() != 0o600 {
		t.Errorf("the log has mode %v, want 0600", st.Mode())
	}
}

// A second opener waits for the log's lock as for the file's, and gets
// ErrLocked naming the database.
func TestLogLockKeepsASecondOpenerOut(t *testing.T) {
	_, path := openTemp(t, keystore.Options{})
	_, err := keystore.Open(path, keystore.Options{LockTimeout: 100e6})
	if !errors.Is(err, keystore.ErrLocked) || !bytes.Contains([]byte(err.Error()), []byte(path)) {
		t.Fatalf("second Open: %v, want ErrLocked naming %s", err, path)
	}
}

// A log beside a fresh, smaller store put in its place, whose
// transactions are behind the log's checkpoint, is refused the same way.
func TestLogOfALargerStoreIsRefused(t *testing.T) {
	dbA, pathA := openTemp(t, keystore.Options{})
	fillAndChange(t, dbA, 400)
	crashedA := keystore.CopyStoreFiles(t, pathA)

	dbB, pathB := openTemp(t, keystore.Options{})
	dbB.Close()
	small, err := os.ReadFile(pathB)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(crashedA, small, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = keystore.Open(crashedA, keystore.Options{KeyFile: pathB + ".key"})
	wantErr(t, err, keystore.ErrCorrupt, unix.EBADMSG)
}

// The journal maps the file with room to spare, and bbolt grows a file by
// its 16 MiB AllocSize once the mapping is bigger than that: the store
// keeps bbolt's doubling instead, so a small store is a small file.
func TestSmallStoreIsASmallFile(t *testing.T) {
	db, path := openTemp(t, keystore.Options{})
	fillAndChange(t, db, 50)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	// Between checkpoints the pin holds replaced pages back (journal.go),
	// so the file is allowed some slack; 16 MiB, from the first commit,
	// is what this guards against.
	if st.Size() > 4<<20 {
		t.Errorf("a store of 50 small keys is a file of %d bytes", st.Size())
	}
}
