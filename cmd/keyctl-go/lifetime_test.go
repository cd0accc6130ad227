package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyctl-go/keyctl-go/daemon"
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
