//go:build linux

package keystore_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/keyctl-go/keyctl-go/keystore"
	"github.com/keyctl-go/keyctl-go/keystore/internal/crc32c"
)

// Opening a store and reading it sets up no hardware checksum: it is a
// quarter of a millisecond of a command that reads a key. Asked of a
// fresh process, since any test may have set it up in this one.
func TestReadingAStoreSetsUpNoHardwareCRC(t *testing.T) {
	if path := os.Getenv("KEYCTL_GO_TEST_CRC_STORE"); path != "" {
		db, err := keystore.Open(path, keystore.Options{DeferWrite: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.View(func(tx *keystore.Tx) error { _, err := tx.Key(1000); return err }); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if crc32c.HardwareSetUp() {
			t.Fatal("opening and reading the store set up the hardware CRC-32C")
		}
		return
	}
	path := filepath.Join(t.TempDir(), "keys.db")
	db, err := keystore.Open(path, keystore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	putKey(t, db, userKey(1000), []byte("read by the child"))
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestReadingAStoreSetsUpNoHardwareCRC$")
	cmd.Env = append(os.Environ(), "KEYCTL_GO_TEST_CRC_STORE="+path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}
