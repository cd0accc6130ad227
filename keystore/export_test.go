//go:build linux

package keystore

import (
	"os"
	"path/filepath"
	"testing"
)

// SetWALGrowth sets walGrowth for a test and returns what restores it:
// tests that simulate a power failure from the file at the journal's first
// checkpoint need no other checkpoint to come in between.
func SetWALGrowth(n int64) (restore func()) {
	old := walGrowth
	walGrowth = n
	return func() { walGrowth = old }
}

// CopyStoreFiles copies the store at path (database, log and key file)
// into a fresh directory, as they are now, and returns the copy's path:
// with the store still open, that is what a crash of the process leaves
// on disk.
func CopyStoreFiles(t testing.TB, path string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "keys.db")
	for _, suffix := range []string{"", ".wal", ".key"} {
		b, err := os.ReadFile(path + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst+suffix, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// WALChunk is the log's unit of growth: its size is a multiple of it, a
// rule of the log's format (package journal).
const WALChunk = 256 << 10

// FileReadOnly reports whether db's file is open read-only, as
// Options.DeferWrite opens it until the first write.
func FileReadOnly(db *DB) bool { return db.journal.ReadOnly() }
