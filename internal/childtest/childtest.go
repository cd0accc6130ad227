// Package childtest helps tests that re-run their own test binary as a
// child process with other credentials, to ask the kernel questions as
// another user. It is for tests only.
package childtest

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// CopyBinary copies the running test binary into a fresh directory that
// any user may enter, and returns its path: go test builds the binary in a
// directory only its owner may enter, so children running as made-up uids
// could not execute it there. The copy goes when the test ends. name is
// the copy's file name.
func CopyBinary(t testing.TB, name string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "keyctl-go-child-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	bin := filepath.Join(dir, name)
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return bin
}
