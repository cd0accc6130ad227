//go:build linux

package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/keyring"
)

// startLifetimeDaemon starts `keyctl-go --db db daemon --socket socket
// args...` and returns a channel that yields its stderr once it exits.
func startLifetimeDaemon(t *testing.T, db, socket string, args ...string) <-chan string {
	t.Helper()
	stderr := &bytes.Buffer{}
	cmd := exec.Command(keyctlGo, append([]string{"--db", db, "daemon", "--socket", socket}, args...)...)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan string, 1)
	waited := make(chan struct{})
	go func() { cmd.Wait(); exited <- stderr.String(); close(waited) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-waited })
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := daemon.Dial(context.Background(), socket)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the daemon never listened: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return exited
}

// exitsWithin waits for the daemon to exit by itself and returns its log.
func exitsWithin(t *testing.T, exited <-chan string, d time.Duration, why string) string {
	t.Helper()
	select {
	case log := <-exited:
		return log
	case <-time.After(d):
		t.Fatalf("the daemon is still running %v later: %s", d, why)
		return ""
	}
}

// An auto-started daemon, given --idle-exit, stays while a client is
// connected (a watcher, say), however long, and exits once it has had no
// connection for that long, saying why. One given no --idle-exit stays.
func TestDaemonIdleExit(t *testing.T) {
	dir := t.TempDir()
	const idle = 300 * time.Millisecond
	db, socket := filepath.Join(dir, "keys.db"), filepath.Join(dir, "sock")
	exited := startLifetimeDaemon(t, db, socket, "--idle-exit", idle.String())
	c, err := daemon.Dial(context.Background(), socket)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case log := <-exited:
		t.Fatalf("the daemon exited with a client connected: %s", log)
	case <-time.After(5 * idle):
	}
	c.Close()
	log := exitsWithin(t, exited, 10*time.Second, "idle")
	if !strings.Contains(log, "exiting: no connection") || !strings.Contains(log, "idle_exit="+idle.String()) {
		t.Errorf("the idle daemon's log does not say why it went:\n%s", log)
	}

	forever := startLifetimeDaemon(t, filepath.Join(dir, "other.db"), filepath.Join(dir, "sock2"))
	select {
	case log := <-forever:
		t.Fatalf("a daemon with no --idle-exit exited: %s", log)
	case <-time.After(5 * idle):
	}
}

// A daemon whose store file is deleted, or replaced by another file,
// exits and says which: what it serves nobody reaches by that path any
// more, and a new daemon would serve the new file.
func TestDaemonExitsWhenItsStoreGoes(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(db string) error
		want   string
	}{
		{"deleted", os.Remove, "the store file was deleted"},
		{"replaced", func(db string) error {
			b, err := os.ReadFile(db)
			if err != nil {
				return err
			}
			if err := os.WriteFile(db+".new", b, 0o600); err != nil {
				return err
			}
			return os.Rename(db+".new", db)
		}, "the store file was replaced by another"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			db, socket := filepath.Join(dir, "keys.db"), filepath.Join(dir, "sock")
			exited := startLifetimeDaemon(t, db, socket)
			if err := c.change(db); err != nil {
				t.Fatal(err)
			}
			log := exitsWithin(t, exited, 5*storeCheckInterval, "store "+c.name)
			if !strings.Contains(log, c.want) {
				t.Errorf("log does not say %q:\n%s", c.want, log)
			}
		})
	}
}

// A watcher started while the store's daemon is starting (it holds the
// store, and listens a moment later) waits for that daemon rather than
// failing on the store's lock or starting a second one, and watches
// through it.
func TestWatchWaitsForADaemonStarting(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "keys.db")
	socket := storeSocketOf(t, db)
	store, err := keyring.Open(db, keyring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	r, stderr := spawnWatcher(t, db, "keyctl watch", "watch", "@u")
	time.Sleep(700 * time.Millisecond) // the daemon is slow to listen
	if err := daemon.PrepareUserSocketDir(socket); err != nil {
		t.Fatal(err)
	}
	srv, err := daemon.Listen(socket, store, daemon.Options{Private: true})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	defer srv.Close()
	p := store.Process(callerCred())
	defer p.Release(context.Background())
	for i, deadline := 0, time.Now().Add(10*time.Second); ; i++ {
		// A new key each time: the watcher sets its watch a moment after
		// it connects.
		if _, err := p.Add(context.Background(), "user", fmt.Sprint("probe", i), []byte("v"), keyring.UserKeyring); err != nil {
			t.Fatal(err)
		}
		select {
		case l, ok := <-r.lines:
			if !ok {
				t.Fatalf("the watcher ended: %s", stderr.String())
			}
			if !strings.Contains(l, " link ") {
				t.Fatalf("the watcher printed %q", l)
			}
			return
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the watcher heard nothing: %s", stderr.String())
		}
	}
}
