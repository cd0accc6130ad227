//go:build linux

package daemon_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/daemon"
)

// serviceUID stands for the dedicated user a packager runs the system
// daemon as (systemd's User=, owning RuntimeDirectory=/run/keyctl-go).
const serviceUID = 990

// At the system socket, and there alone, a client also trusts the owner
// of the socket's directory, when only root could have chosen that owner:
// the directory's parent is root's and writable by nobody else. Bob, who
// can make directories of his own (in his home, in /tmp), cannot make a
// client believe him by that shape anywhere, nor at the system socket's
// path by a symbolic link or a directory in a parent others may write.
func TestSystemSocketTrustsItsDirectorysOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to run daemons as a service uid and as bob")
	}
	daemon.SetDialTimeout(t, 500*time.Millisecond)
	bin := childBinary(t)
	// Under /tmp itself: t.TempDir's parent is closed to the uids below.
	base, err := os.MkdirTemp("", "keyctl-go-systemtrust-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	mkdir := func(path string, uid int, mode os.FileMode) string {
		t.Helper()
		if err := os.MkdirAll(path, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(path, uid, uid); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		return path
	}
	mkdir(base, 0, 0o755)

	cases := []struct {
		name    string
		listen  func(t *testing.T) (socket string, uid uint32) // where the daemon listens, as whom
		system  bool                                           // the socket is the system socket
		trusted bool
	}{
		{"service user, in a root directory", func(t *testing.T) (string, uint32) {
			run := mkdir(filepath.Join(base, "run1"), 0, 0o755)
			return filepath.Join(mkdir(filepath.Join(run, "keyctl-go"), serviceUID, 0o755), "socket"), serviceUID
		}, true, true},
		{"service user, the same shape but not the system socket", func(t *testing.T) (string, uint32) {
			run := mkdir(filepath.Join(base, "run2"), 0, 0o755)
			return filepath.Join(mkdir(filepath.Join(run, "keyctl-go"), serviceUID, 0o755), "socket"), serviceUID
		}, false, false},
		{"bob, his directory in his home", func(t *testing.T) (string, uint32) {
			home := mkdir(filepath.Join(base, "home-bob"), bob, 0o755)
			return filepath.Join(mkdir(filepath.Join(home, "keyctl-go"), bob, 0o755), "socket"), bob
		}, true, false},
		{"bob, his directory in a sticky /tmp", func(t *testing.T) (string, uint32) {
			tmp := mkdir(filepath.Join(base, "tmp"), 0, os.ModeSticky|0o777)
			return filepath.Join(mkdir(filepath.Join(tmp, "keyctl-go"), bob, 0o755), "socket"), bob
		}, true, false},
		{"bob, his directory in a root directory others may write", func(t *testing.T) (string, uint32) {
			open := mkdir(filepath.Join(base, "open"), 0, 0o777)
			return filepath.Join(mkdir(filepath.Join(open, "keyctl-go"), bob, 0o755), "socket"), bob
		}, true, false},
		{"bob, a symbolic link to his directory", func(t *testing.T) (string, uint32) {
			run := mkdir(filepath.Join(base, "run3"), 0, 0o755)
			his := mkdir(filepath.Join(base, "bobs"), bob, 0o755)
			if err := os.Symlink(his, filepath.Join(run, "keyctl-go")); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(run, "keyctl-go", "socket"), bob
		}, true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			socket, uid := c.listen(t)
			if c.system {
				daemon.SetSystemSocket(t, socket)
			}
			heard := startImpostor(t, bin, socket, uid)
			cl, err := daemon.Dial(context.Background(), socket)
			if cl != nil {
				cl.Close()
			}
			// The listener says nothing back: a trusted one is talked
			// to (and the dial times out waiting), another is refused.
			refused := errors.Is(err, unix.EPERM)
			if refused == c.trusted {
				t.Errorf("Dial %s (uid %d listening): %v; want trusted %v", socket, uid, err, c.trusted)
			}
			rep := <-heard
			if c.trusted != (rep.Bytes > 0) {
				t.Errorf("the daemon as uid %d heard %d bytes; want trusted %v", uid, rep.Bytes, c.trusted)
			}
		})
	}
}
