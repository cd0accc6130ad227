//go:build linux

package daemon_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/perms"
)

// activated runs the daemon process as systemd would for a .socket unit:
// with files[0] as fd 3, LISTEN_FDS=1 and LISTEN_PID set to its own pid,
// which only the process itself can know before it runs: a shell exports
// its $$ and execs the test binary in its place, keeping the pid, as
// systemd sets the variable between fork and exec.
func activated(bin, store string, files ...*os.File) *exec.Cmd {
	cmd := exec.Command("/bin/sh", "-c", `export LISTEN_PID=$$; exec "$0" "$@"`, bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), "LISTEN_FDS=1", serveStoreEnv+"="+store, serveSocketEnv+"=")
	cmd.ExtraFiles = files
	return cmd
}

// A daemon started with a listening socket passed in fd 3 serves on it,
// and leaves the socket file, which is systemd's, when it stops.
func TestSocketActivation(t *testing.T) {
	dir := t.TempDir()
	socket := filepath.Join(dir, "socket")
	storePath := filepath.Join(dir, "keys.db")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: socket, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	f, err := ln.File()
	if err != nil {
		t.Fatal(err)
	}
	// The daemon's copy is now the only one listening: a connect before
	// it is ready waits in the backlog, as with systemd.
	ln.Close()
	d := startDaemonCmd(t, activated(childBinary(t), storePath, f), socket)
	f.Close()

	ctx := context.Background()
	c, err := daemon.Dial(ctx, socket)
	if err != nil {
		t.Fatal(err)
	}
	id, err := c.Add(ctx, "user", "activated", []byte("through fd 3"), keyring.UserKeyring)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()

	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := d.wait(t); err != nil {
		t.Fatalf("daemon after SIGTERM: %v; %s", err, d.stderr)
	}
	if _, err := os.Stat(socket); err != nil {
		t.Errorf("the activated daemon removed the service manager's socket: %v", err)
	}
	store, err := keyring.Open(storePath, keyring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	data, err := store.Process(perms.Cred{UID: uint32(os.Getuid()), GID: uint32(os.Getgid())}).Read(ctx, id)
	if err != nil || string(data) != "through fd 3" {
		t.Fatalf("the key added through the activated daemon: %q, %v", data, err)
	}
}

// Something other than a listening Unix socket in fd 3 is a broken unit:
// the daemon says so and exits rather than serve something else.
func TestSocketActivationRefusesOtherFiles(t *testing.T) {
	dir := t.TempDir()
	notSocket, err := os.Create(filepath.Join(dir, "file"))
	if err != nil {
		t.Fatal(err)
	}
	defer notSocket.Close()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, "dgram"), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	dgram, err := conn.File()
	if err != nil {
		t.Fatal(err)
	}
	defer dgram.Close()
	for name, f := range map[string]*os.File{"a regular file": notSocket, "a datagram socket": dgram} {
		t.Run(name, func(t *testing.T) {
			cmd := activated(childBinary(t), filepath.Join(dir, "keys.db"), f)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("daemon served %s in fd 3: %s", name, out)
			}
			if !strings.Contains(string(out), "fd 3") {
				t.Fatalf("daemon's complaint does not name fd 3: %s", out)
			}
		})
	}
}
