//go:build linux

package keyring_test

import (
	"path/filepath"
	"testing"

	"github.com/google/uuid"

	"github.com/keyctl-go/keyctl-go/keyring"
)

// A store's UUID is its keystore's: the same when it is opened again,
// another for another store, whose revisions count apart.
func TestStoreUUID(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.db")
	s, err := keyring.Open(path, keyring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	id := s.UUID()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if id == uuid.Nil {
		t.Fatal("a new store has no UUID")
	}
	s, err = keyring.Open(path, keyring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.UUID(); got != id {
		t.Errorf("reopened, the store is %v, want %v", got, id)
	}
	other, err := keyring.Open(filepath.Join(t.TempDir(), "keys.db"), keyring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if other.UUID() == id {
		t.Errorf("two stores share the UUID %v", id)
	}
}
