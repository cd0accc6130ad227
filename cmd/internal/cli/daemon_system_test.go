//go:build linux

package cli

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keyctl-go/keyctl-go/daemon"
)

// runAs runs the keyctl-go binary bin as uid (uid and gid alike) with
// args, against the daemon at socket, and returns its stdout, stderr and
// exit code.
func runAs(t *testing.T, bin, socket string, uid uint32, args ...string) (string, string, int) {
	t.Helper()
	return runAsUser(t, bin, uid, []string{envSocket + "=" + socket}, args...)
}

// publicCopy copies the keyctl-go binary where other uids may run it:
// the test's build directory is its owner's alone.
func publicCopy(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "keyctl-go-bin-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(keyctlGo)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	bin := filepath.Join(dir, "keyctl-go")
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return bin
}

// waitListening waits until a daemon answers at socket.
func waitListening(t *testing.T, socket string, stderr *bytes.Buffer) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := daemon.Dial(context.Background(), socket)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the daemon never listened: %v\n%s", err, stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// `keyctl-go daemon --system` serves every user from one store: the
// socket's directory lets everyone in, the store's nobody but root, and
// each user's commands act as that user.
func TestDaemonSystemMode(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the system daemon runs as root, its clients as other uids")
	}
	d := startSystemCLI(t, 0o755)
	socket, db := d.socket, d.db
	for path, want := range map[string]os.FileMode{
		filepath.Dir(socket): os.ModeDir | 0o755,
		filepath.Dir(db):     os.ModeDir | 0o700,
		socket:               os.ModeSocket | 0o666,
	} {
		if fi, err := os.Stat(path); err != nil || fi.Mode() != want {
			t.Errorf("%s: %v, %v; want %v", path, fi.Mode(), err, want)
		}
	}

	bin := publicCopy(t)
	id, errs, code := runAs(t, bin, socket, 1000, "add", "user", "alices", "secret", "@u")
	if code != 0 {
		t.Fatalf("uid 1000 adding a key: exit %d, %s", code, errs)
	}
	id = strings.TrimSpace(id)
	if out, errs, code := runAs(t, bin, socket, 1001, "print", id); code != 1 || out != "" || errs != "keyctl_read_alloc: Permission denied\n" {
		t.Errorf("uid 1001 printing uid 1000's key: exit %d, %q, %q", code, out, errs)
	}
	if out, errs, code := runAs(t, bin, socket, 1000, "print", id); code != 0 || out != "secret\n" {
		t.Errorf("uid 1000 printing its key: exit %d, %q, %q", code, out, errs)
	}

	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Wait(); err != nil {
		t.Fatalf("system daemon after SIGTERM: %v\n%s", err, d.stderr)
	}
}

// Started by a service manager with a listening socket in fd 3, the
// daemon serves it, and leaves it to the manager when it stops.
func TestDaemonSocketActivated(t *testing.T) {
	dir := t.TempDir()
	socket := filepath.Join(dir, "keyctl-go.socket")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: socket, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	f, err := ln.File()
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	// systemd sets LISTEN_PID between fork and exec; a shell that
	// exports its own pid and execs keyctl-go does the same.
	cmd := exec.Command("/bin/sh", "-c", `export LISTEN_PID=$$; exec "$0" "$@"`, keyctlGo, "--db", filepath.Join(dir, "keys.db"), "daemon")
	cmd.Env = append(os.Environ(), "LISTEN_FDS=1")
	cmd.ExtraFiles = []*os.File{f}
	stderr := &bytes.Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitListening(t, socket, stderr)

	env := map[string]string{envSocket: socket}
	id, errs, code := keyctlRunEnv(t, env, "add", "user", "k", "activated", "@u")
	if code != 0 {
		t.Fatalf("add through the activated daemon: exit %d, %s", code, errs)
	}
	if out, errs, code := keyctlRunEnv(t, env, "print", strings.TrimSpace(id)); code != 0 || out != "activated\n" {
		t.Errorf("print through the activated daemon: exit %d, %q, %q", code, out, errs)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("activated daemon after SIGTERM: %v\n%s", err, stderr)
	}
	if _, err := os.Stat(socket); err != nil {
		t.Errorf("the daemon removed the service manager's socket: %v", err)
	}
}

// systemCLI is a `keyctl-go daemon --system` started by startSystemCLI.
type systemCLI struct {
	socket, db, root string
	cmd              *exec.Cmd
	stderr           *bytes.Buffer
}

// startSystemCLI starts `keyctl-go daemon --system` with args after it,
// its socket and store under a fresh root directory of mode rootMode (one
// every user may enter). The daemon is killed when the test ends.
func startSystemCLI(t *testing.T, rootMode os.FileMode, args ...string) *systemCLI {
	t.Helper()
	root, err := os.MkdirTemp("", "keyctl-go-system-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	if err := os.Chmod(root, rootMode); err != nil {
		t.Fatal(err)
	}
	d := &systemCLI{root: root, socket: filepath.Join(root, daemon.SystemSocket), db: filepath.Join(root, daemon.SystemStore), stderr: &bytes.Buffer{}}
	d.cmd = exec.Command(keyctlGo, append([]string{"--db", d.db, "daemon", "--system", "--socket", d.socket}, args...)...)
	d.cmd.Stderr = d.stderr
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.cmd.Process.Kill(); d.cmd.Wait() })
	waitListening(t, d.socket, d.stderr)
	return d
}
