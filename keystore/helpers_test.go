//go:build linux

package keystore_test

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keystore"
)

// fastParams is the cheapest cost the limits allow, so that tests derive
// in microseconds; the cost does not change what is being tested.
func fastParams() keystore.Argon2Params {
	return keystore.Argon2Params{
		Time:    1,
		Memory:  64, // KiB
		Threads: 1,
		Salt:    []byte("0123456789abcdef"),
	}
}

// binding is what the store is expected to pass: the key's serial, fixed
// width, then its type.
func binding(serial uint32, typ string) []byte {
	return append(binary.BigEndian.AppendUint32(nil, serial), typ...)
}

// newKeyFile creates a key file in a fresh directory and returns its KEK,
// its path and the key bytes as stored, for tests that need to look for
// them.
func newKeyFile(t *testing.T) (*keystore.KEK, string, []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keys", "data.key")
	kek, err := keystore.CreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kek.Wipe)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return kek, path, raw
}

func newSealer(t testing.TB) *keystore.Sealer {
	s := keystore.NewSealer()
	t.Cleanup(s.Wipe)
	return s
}

// wantErr fails t unless err matches sentinel (if not nil) and errno, and
// reads as this package's error.
func wantErr(t testing.TB, err, sentinel error, errno unix.Errno) {
	t.Helper()
	switch {
	case err == nil:
		t.Fatalf("err = nil, want %v (%v)", sentinel, errno)
	case sentinel != nil && !errors.Is(err, sentinel):
		t.Fatalf("err = %q, want errors.Is(err, %q)", err, sentinel)
	case !errors.Is(err, errno):
		t.Fatalf("err = %q, want errors.Is(err, %v)", err, errno)
	case !strings.HasPrefix(err.Error(), "keystore: "):
		t.Fatalf("err = %q, want it to start with %q", err, "keystore: ")
	}
}

// mustPanic fails t unless f panics with a message naming this package.
func mustPanic(t *testing.T, name string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		msg, _ := r.(string)
		if !strings.HasPrefix(msg, "keystore: ") {
			t.Errorf("%s: recovered %#v, want a panic starting with %q", name, r, "keystore: ")
		}
	}()
	f()
}
