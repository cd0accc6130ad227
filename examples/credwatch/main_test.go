//go:build linux

package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/keyctl"
	"github.com/keyctl-go/keyctl-go/keyring"
)

// The watcher runs unchanged on a store of its own and through a daemon,
// and hears the same thing both ways.
func TestCredwatchWithAndWithoutADaemon(t *testing.T) {
	want := `@u link credential
credential upd
credential upd
credential rev
watch 1 removed
`
	for _, withDaemon := range []bool{false, true} {
		dir, err := os.MkdirTemp("", "cw") // short: sockets' paths are
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		vars := map[string]string{"HOME": dir, "XDG_RUNTIME_DIR": filepath.Join(dir, "run")}
		o := keyctl.Options{Getenv: func(k string) string { return vars[k] }, SystemSocket: "-"}
		wantStep := keyctl.StepUserStore
		if withDaemon {
			socket, err := o.StoreSocket()
			if err != nil {
				t.Fatal(err)
			}
			serve(t, socket)
			wantStep = keyctl.StepUserDaemon
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var out, log strings.Builder
		err = run(ctx, o, &out, &log)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(log.String(), wantStep.String()) {
			t.Errorf("with a daemon %v, it went %s; want %v", withDaemon, log.String(), wantStep)
		}
		if out.String() != want {
			t.Errorf("with a daemon %v, it heard:\n%s\nwant:\n%s", withDaemon, out.String(), want)
		}
	}
}

// serve runs the user's daemon at socket on a store of its own.
func serve(t *testing.T, socket string) {
	store, err := keyring.Open(filepath.Join(t.TempDir(), "keys.db"), keyring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := daemon.PrepareUserSocketDir(socket); err != nil {
		t.Fatal(err)
	}
	srv, err := daemon.Listen(socket, store, daemon.Options{Private: true})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	t.Cleanup(func() { srv.Close(); store.Close() })
}
