package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/perms"
)

// keyctl-go daemon serves the store on a socket until SIGTERM, then
// finishes, closes the store and exits 0: what a client added through it
// is in the file, and the file passes its consistency check.
func TestDaemonCommandServesUntilSIGTERM(t *testing.T) {
	dir := t.TempDir()
	db, socket := filepath.Join(dir, "keys.db"), filepath.Join(dir, "sock")
	var stderr bytes.Buffer
	cmd := exec.Command(keyctlGo, "--db", db, "daemon", "--socket", socket)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var c *daemon.Client
	for {
		var err error
		if c, err = daemon.Dial(ctx, socket); err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the daemon never listened: %v\n%s", err, stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	id, err := c.Add(ctx, "user", "via-daemon", []byte("hello"), keyring.UserKeyring)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.Read(ctx, id); err != nil || string(got) != "hello" {
		t.Fatalf("read through the daemon: %q, %v", got, err)
	}
	c.Close()

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("daemon after SIGTERM: %v\n%s", err, stderr.String())
	}
	store, err := keyring.Open(db, keyring.Options{})
	if err != nil {
		t.Fatalf("the daemon did not let go of the store: %v", err)
	}
	defer store.Close()
	if err := store.Check(); err != nil {
		t.Fatal(err)
	}
	p := store.Process(perms.Cred{UID: uint32(os.Getuid()), GID: uint32(os.Getgid())})
	if got, err := p.Read(ctx, id); err != nil || string(got) != "hello" {
		t.Errorf("after the daemon stopped, the key reads %q, %v", got, err)
	}
}

func TestDaemonCommandNeedsASocketPlace(t *testing.T) {
	out, errs, code := keyctlRunEnv(t, map[string]string{envDB: filepath.Join(t.TempDir(), "k.db")}, "daemon")
	if code != 1 || out != "" || errs != "keyctl-go daemon: no --socket and no $XDG_RUNTIME_DIR to put the socket in\n" {
		t.Errorf("daemon without a socket place: exit %d, %q %q", code, out, errs)
	}
	if _, errs, code := keyctlRunEnv(t, nil, "daemon", "--bogus"); code != 2 || errs != "Format: keyctl-go daemon [--socket <path>]\n" {
		t.Errorf("daemon --bogus: exit %d, %q", code, errs)
	}
}

// keyctlRunEnv runs keyctl-go in-process with the given environment.
func keyctlRunEnv(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	a := newApp(bytes.NewReader(nil), &out, &errb, func(k string) string { return env[k] })
	code = run(context.Background(), a, args)
	return out.String(), errb.String(), code
}
