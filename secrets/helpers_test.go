//go:build linux

package secrets_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/keyctl"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/perms"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// alice is the user the tests store secrets as, a uid the kernel's
// defaults limit; bob is another.
var (
	alice = perms.Cred{UID: 1000, GID: 1000}
	bob   = perms.Cred{UID: 1001, GID: 1001}
)

// clock is a test's time, which the store's collector reads from its own
// goroutine.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// openStore opens a real store in a temporary directory, closed (and
// checked) when the test ends.
func openStore(t testing.TB, opts keyring.Options) *keyring.Store {
	t.Helper()
	store, err := keyring.Open(filepath.Join(t.TempDir(), "keys.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := store.Check(); err != nil {
			t.Errorf("store inconsistent: %v", err)
		}
		store.Close()
	})
	return store
}

// process is a Process of cred on store, released when the test ends.
func process(t testing.TB, store *keyring.Store, cred perms.Cred) *keyring.Process {
	t.Helper()
	p := store.Process(cred)
	t.Cleanup(func() { p.Release(context.Background()) })
	return p
}

// serve serves store on a real socket until the test ends and returns a
// client connected to it, which acts as the test's own uid.
func serve(t testing.TB, store *keyring.Store) *daemon.Client {
	t.Helper()
	dir, err := os.MkdirTemp("", "keyctl-go-secrets-")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "daemon.sock")
	srv, err := daemon.Listen(path, store, daemon.Options{})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	socketOf.Store(store, path)
	c, err := daemon.Dial(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		socketOf.Delete(store)
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
		os.RemoveAll(dir)
	})
	return c
}

// socketOf is where serve serves each store.
var socketOf sync.Map

// another returns a second caller of the same kind as c: another Process
// of alice, another connection to the daemon serving store, or another
// keyctl.Caller through it.
func another(t testing.TB, store *keyring.Store, c keyring.Caller) keyring.Caller {
	t.Helper()
	if _, ok := c.(*keyring.Process); ok {
		return process(t, store, alice)
	}
	path, _ := socketOf.Load(store)
	if _, ok := c.(keyctl.Caller); ok {
		return openKeyctl(t, path.(string))
	}
	d, err := daemon.Dial(context.Background(), path.(string))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// modes runs fn once with the store embedded (a Process of alice) and
// once over the daemon (a client, as the test's uid).
func modes(t *testing.T, fn func(t *testing.T, store *keyring.Store, c keyring.Caller)) {
	t.Run("embedded", func(t *testing.T) {
		store := openStore(t, keyring.Options{})
		fn(t, store, process(t, store, alice))
	})
	t.Run("daemon", func(t *testing.T) {
		store := openStore(t, keyring.Options{})
		fn(t, store, serve(t, store))
	})
}

// openKeyctl is a keyctl.Caller through the daemon at socket, closed when
// the test ends.
func openKeyctl(t testing.TB, socket string) keyctl.Caller {
	t.Helper()
	c, err := keyctl.Open(context.Background(), keyctl.Options{Socket: socket})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// modesAndKeyctl is modes, and once more through a keyctl.Caller on the
// daemon, which relays its connection's records into a queue of its own.
func modesAndKeyctl(t *testing.T, fn func(t *testing.T, store *keyring.Store, c keyring.Caller)) {
	modes(t, fn)
	t.Run("keyctl", func(t *testing.T) {
		store := openStore(t, keyring.Options{})
		serve(t, store)
		path, _ := socketOf.Load(store)
		fn(t, store, openKeyctl(t, path.(string)))
	})
}
