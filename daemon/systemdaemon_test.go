//go:build linux

package daemon_test

import (
	"testing"

	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/keyring"
)

// systemDaemon is a daemon in system mode, in this process, on a fresh
// store: what the tests of its boundary run other uids' processes
// against.
type systemDaemon struct {
	socket, storePath string
	store             *keyring.Store
}

// startSystemDaemon serves a fresh store on a system-mode socket, as root,
// for clients of any uid, the store opened with opts. When the test ends it stops the daemon, checks
// that Serve returned cleanly and the store is consistent, and closes it.
func startSystemDaemon(t *testing.T, opts keyring.Options) *systemDaemon {
	t.Helper()
	socket, storePath := systemPaths(t)
	if err := daemon.PrepareSystemDirs(socket, storePath); err != nil {
		t.Fatal(err)
	}
	store, err := keyring.Open(storePath, opts)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := daemon.Listen(socket, store, daemon.Options{})
	if err != nil {
		store.Close()
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
		if err := store.Check(); err != nil {
			t.Errorf("store inconsistent: %v", err)
		}
		store.Close()
	})
	return &systemDaemon{socket: socket, storePath: storePath, store: store}
}
