//go:build linux

package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/keyring"
)

// A command run while a daemon starts, after the daemon has opened the
// store but before it listens, goes through that daemon once it answers,
// instead of waiting out the store's lock and failing.
func TestCommandWhileTheDaemonStarts(t *testing.T) {
	db := filepath.Join(t.TempDir(), "keys.db")
	if _, errs, code := keyctlRun(t, db, "", "add", "user", "k", "through the daemon", "@u"); code != 0 {
		t.Fatal(errs)
	}
	// This test is the daemon: the store open, the socket not yet there.
	store, err := keyring.Open(db, keyring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	listening := make(chan *daemon.Server, 1)
	go func() {
		time.Sleep(500 * time.Millisecond)
		socket := storeSocketOf(t, db)
		err := daemon.PrepareUserSocketDir(socket)
		var srv *daemon.Server
		if err == nil {
			srv, err = daemon.Listen(socket, store, daemon.Options{Private: true})
		}
		if err != nil {
			t.Error(err)
			close(listening)
			return
		}
		listening <- srv
		srv.Serve()
	}()
	cmd := exec.Command(keyctlGo, "--db", db, "print", "%user:k")
	cmd.Env = append(os.Environ(), "KEYCTL_GO_SOCKET=", "KEYCTL_GO_SESSION=")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if srv := <-listening; srv != nil {
		defer srv.Close()
	}
	if err != nil || string(out) != "through the daemon\n" {
		t.Fatalf("print while the daemon started: %v\n%s", err, out)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("print took %v: it waited for the lock instead of the daemon", took)
	}
}
