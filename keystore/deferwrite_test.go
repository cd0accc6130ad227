//go:build linux

package keystore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keystore"
)

// A store opened with DeferWrite reads from a file open read-only (bbolt
// reads no freelist for it), and the first write reopens it for writing:
// the write succeeds and lasts, and the store is the same store
// throughout. Nobody else gets in meanwhile: the log's lock is held.
func TestDeferWriteReopensAtTheFirstWrite(t *testing.T) {
	db, path := openTemp(t, keystore.Options{})
	want := fillAndChange(t, db, 40)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err := keystore.Open(path, keystore.Options{DeferWrite: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if !keystore.FileReadOnly(db) {
		t.Fatal("a clean store opened with DeferWrite is open for writing before any write")
	}
	if _, err := keystore.Open(path, keystore.Options{LockTimeout: 100e6}); !errors.Is(err, keystore.ErrLocked) {
		t.Fatalf("a second opener while the file is read-only: %v, want ErrLocked", err)
	}
	if err := db.View(func(tx *keystore.Tx) error {
		r, err := tx.Key(1001)
		if err == nil && r == nil {
			err = errors.New("key 1001 is missing")
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if !keystore.FileReadOnly(db) {
		t.Fatal("reading reopened the file for writing")
	}

	putKey(t, db, userKey(5000), []byte("written after the reopen"))
	want[5000] = []byte("written after the reopen")
	if keystore.FileReadOnly(db) {
		t.Fatal("the file is still read-only after a write")
	}
	putKey(t, db, userKey(5001), []byte("and another"))
	want[5001] = []byte("and another")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	wantKeys(t, path, want)
	// Nothing written: the store opens read-only again, and closes clean.
	db, err = keystore.Open(path, keystore.Options{DeferWrite: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	wantKeys(t, path, want)
}

// Readers running while the first write reopens the file all succeed,
// on one file or the other, and see every key (run with -race: the
// handle changes under them).
func TestDeferWriteReadersDuringTheReopen(t *testing.T) {
	db, path := openTemp(t, keystore.Options{})
	fillAndChange(t, db, 8)
	db.Close()
	db, err := keystore.Open(path, keystore.Options{DeferWrite: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				err := db.View(func(tx *keystore.Tx) error {
					if r, err := tx.Key(1001); err != nil || r == nil {
						return fmt.Errorf("key 1001: %v, %v", r, err)
					}
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for i := range 20 {
		putKey(t, db, userKey(6000+uint32(i)), []byte("x"))
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := db.Check(); err != nil {
		t.Fatal(err)
	}
}

// If the file cannot be had for writing (here another process, bbolt's
// own tool say, holds it shared), the write fails with ErrLocked, reads
// go on from the file open read-only again, and a later write succeeds
// once the file is free.
func TestDeferWriteReopenFails(t *testing.T) {
	db, path := openTemp(t, keystore.Options{})
	want := fillAndChange(t, db, 8)
	db.Close()
	db, err := keystore.Open(path, keystore.Options{DeferWrite: true, LockTimeout: 100e6})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	other, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := unix.Flock(int(other.Fd()), unix.LOCK_SH|unix.LOCK_NB); err != nil {
		t.Fatalf("sharing the file opened with DeferWrite: %v (is it open for writing?)", err)
	}
	err = db.Update(context.Background(), func(tx *keystore.Tx) error { return tx.PutKey(userKey(7000)) })
	if !errors.Is(err, keystore.ErrLocked) {
		t.Fatalf("a write while the file is held: %v, want ErrLocked", err)
	}
	if !keystore.FileReadOnly(db) {
		t.Error("after the failed reopen the file is not the read-only one")
	}
	if err := db.View(func(tx *keystore.Tx) error {
		r, err := tx.Key(1001)
		if err == nil && r == nil {
			err = errors.New("key 1001 is missing")
		}
		return err
	}); err != nil {
		t.Fatalf("reading after the failed reopen: %v", err)
	}
	unix.Flock(int(other.Fd()), unix.LOCK_UN)
	putKey(t, db, userKey(7001), []byte("once free"))
	want[7001] = []byte("once free")
	want[7000] = nil // the failed write left nothing
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	wantKeys(t, path, want)
}

// Stores that need writing to open (a log to recover, an old schema) are
// opened for writing at once, and come out as they would without
// DeferWrite.
func TestDeferWriteStoresThatNeedWriting(t *testing.T) {
	t.Run("crashed", func(t *testing.T) {
		db, path := openTemp(t, keystore.Options{})
		want := fillAndChange(t, db, 30)
		crashed := keystore.CopyStoreFiles(t, path)
		rec, err := keystore.Open(crashed, keystore.Options{DeferWrite: true})
		if err != nil {
			t.Fatal(err)
		}
		if keystore.FileReadOnly(rec) {
			t.Error("a store with a log to recover is read-only")
		}
		rec.Close()
		wantKeys(t, crashed, want)
	})
	for _, version := range []string{"v2", "v5"} {
		t.Run("schema "+version, func(t *testing.T) {
			db, err := keystore.Open(copyTestStore(t, version), keystore.Options{DeferWrite: true})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := db.Check(); err != nil {
				t.Fatalf("upgraded store is inconsistent: %v", err)
			}
			wantTestStoreKeys(t, db, version)
		})
	}
	// Recovered by an opener that then failed, the old store's log is
	// clean and only its schema wants writing.
	t.Run("schema v5, recovered", func(t *testing.T) {
		path := copyTestStore(t, "v5")
		if _, err := keystore.Open(path, keystore.Options{KeyFile: wrongKeyFile(t)}); !errors.Is(err, keystore.ErrWrongKey) {
			t.Fatalf("opening with the wrong key file: %v", err)
		}
		db, err := keystore.Open(path, keystore.Options{DeferWrite: true})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if keystore.FileReadOnly(db) {
			t.Error("a store upgraded at open is read-only")
		}
		if err := db.Check(); err != nil {
			t.Fatalf("upgraded store is inconsistent: %v", err)
		}
		wantTestStoreKeys(t, db, "v5")
	})
	t.Run("new", func(t *testing.T) {
		db, _ := openTemp(t, keystore.Options{DeferWrite: true})
		putKey(t, db, userKey(1000), []byte("first"))
	})
}
