package keystore

import (
	"hash/crc32"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// crc32c is hash/crc32's CRC-32C for every length on both sides of the
// bytewise limit, before and after the hardware checksum is set up, and
// continuing from any value.
func TestCRC32CIsCastagnoli(t *testing.T) {
	ref := crc32.MakeTable(crc32.Castagnoli)
	rng := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, 3*crc32cBytewiseMax)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	for _, n := range []int{0, 1, 7, 36, 77, 4095, 4096, 4097, 3 * crc32cBytewiseMax} {
		seed := rng.Uint32()
		if got, want := crc32c(seed, b[:n]), crc32.Update(seed, ref, b[:n]); got != want {
			t.Errorf("crc32c(%#x, %d bytes) = %#x, want %#x", seed, n, got, want)
		}
	}
	for n := range 600 {
		if got, want := crc32c(0, b[:n]), crc32.Checksum(b[:n], ref); got != want {
			t.Fatalf("crc32c of %d bytes = %#x, want %#x", n, got, want)
		}
	}
}

// Opening a store and reading it sets up no hardware checksum: it is a
// quarter of a millisecond of a command that reads a key. Asked of a
// fresh process, since any test may have set it up in this one.
func TestReadingAStoreSetsUpNoHardwareCRC(t *testing.T) {
	if path := os.Getenv("KEYCTL_GO_TEST_CRC_STORE"); path != "" {
		db, err := Open(path, Options{DeferWrite: true})
		if err != nil {
			t.Fatal(err)
		}
		db.View(func(tx *Tx) error { _, err := tx.Key(1000); return err })
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if crc32cHardware.Load() {
			t.Fatal("opening and reading the store set up the hardware CRC-32C")
		}
		return
	}
	path := filepath.Join(t.TempDir(), "keys.db")
	db, err := Open(path, Options{DeferWrite: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestReadingAStoreSetsUpNoHardwareCRC$")
	cmd.Env = append(os.Environ(), "KEYCTL_GO_TEST_CRC_STORE="+path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}
