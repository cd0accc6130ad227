//go:build linux

package daemon_test

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/daemon"
)

// Every per-user socket is in the user's private directory: the default
// store's under a fixed name, every other store's under a name of its
// own, the same however the store is named; never beside the store.
func TestUserSocket(t *testing.T) {
	const run = "/run/user/1000"
	if got, _ := daemon.UserSocket(run, ""); got != run+"/keyctl-go/socket" {
		t.Errorf("the default store's socket: %s", got)
	}
	dir := t.TempDir()
	t.Chdir(dir)
	store := filepath.Join(dir, "keys.db")
	abs, _ := daemon.UserSocket(run, store)
	rel, _ := daemon.UserSocket(run, "keys.db")
	other, _ := daemon.UserSocket(run, filepath.Join(dir, "other.db"))
	if abs != rel || filepath.Dir(abs) != run+"/keyctl-go" || !strings.HasSuffix(abs, ".sock") {
		t.Errorf("store %s: socket %s, and %s named relatively; want one socket in %s/keyctl-go", store, abs, rel, run)
	}
	if other == abs || filepath.Dir(other) != filepath.Dir(abs) {
		t.Errorf("two stores, sockets %s and %s: want two in one directory", abs, other)
	}
	// No $XDG_RUNTIME_DIR, or a relative one, which the XDG spec says to
	// ignore: a directory of the user's own in /tmp.
	fallback := "/tmp/keyctl-go-" + strconv.Itoa(os.Geteuid())
	for _, runtimeDir := range []string{"", "run/user/1000"} {
		if got, _ := daemon.UserSocket(runtimeDir, ""); got != fallback+"/socket" {
			t.Errorf("runtime dir %q: the default store's socket is %s, want in %s", runtimeDir, got, fallback)
		}
		if got, _ := daemon.UserSocket(runtimeDir, store); filepath.Dir(got) != fallback {
			t.Errorf("runtime dir %q: store socket %s, want in %s", runtimeDir, got, fallback)
		}
	}
}

// PrepareUserSocketDir makes the per-user socket's directory the user's
// alone, and refuses one that is not, or that anyone but the user or
// root could swap, at any level: a symbolic link, another user's, one
// others may write to. Nothing already there is changed.
func TestPrepareUserSocketDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to make directories of another uid")
	}
	socketIn := func(runtimeDir string) string {
		s, err := daemon.UserSocket(runtimeDir, "")
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, c := range []struct {
		name string
		// setup makes a tree under base, and returns $XDG_RUNTIME_DIR in
		// it and the directory at fault, if any.
		setup func(t *testing.T, base string) (runtimeDir, bad string)
		want  unix.Errno
	}{
		{"fresh", func(t *testing.T, base string) (string, string) {
			return filepath.Join(base, "run"), ""
		}, 0},
		{"already there and private", func(t *testing.T, base string) (string, string) {
			mkdir(t, filepath.Join(base, "run", "keyctl-go"), 0o700)
			return filepath.Join(base, "run"), ""
		}, 0},
		{"a symbolic link", func(t *testing.T, base string) (string, string) {
			target := filepath.Join(base, "elsewhere")
			mkdir(t, target, 0o700)
			symlink(t, target, filepath.Join(base, "run", "keyctl-go"))
			return filepath.Join(base, "run"), filepath.Join(base, "run", "keyctl-go")
		}, unix.ENOTDIR},
		{"the runtime dir a symbolic link", func(t *testing.T, base string) (string, string) {
			target := filepath.Join(base, "elsewhere")
			mkdir(t, target, 0o700)
			symlink(t, target, filepath.Join(base, "run"))
			return filepath.Join(base, "run"), filepath.Join(base, "run")
		}, unix.ENOTDIR},
		{"another user's", func(t *testing.T, base string) (string, string) {
			dir := filepath.Join(base, "run", "keyctl-go")
			mkdir(t, dir, 0o700)
			chown(t, dir, alice)
			return filepath.Join(base, "run"), dir
		}, unix.EPERM},
		{"the runtime dir another user's", func(t *testing.T, base string) (string, string) {
			mkdir(t, filepath.Join(base, "run"), 0o700)
			chown(t, filepath.Join(base, "run"), alice)
			return filepath.Join(base, "run"), filepath.Join(base, "run")
		}, unix.EPERM},
		{"already there, 0755", func(t *testing.T, base string) (string, string) {
			mkdir(t, filepath.Join(base, "run", "keyctl-go"), 0o755)
			return filepath.Join(base, "run"), ""
		}, 0},
		{"group-writable", func(t *testing.T, base string) (string, string) {
			dir := filepath.Join(base, "run", "keyctl-go")
			mkdir(t, dir, 0o770)
			return filepath.Join(base, "run"), dir
		}, unix.EPERM},
		{"shared and sticky", func(t *testing.T, base string) (string, string) {
			dir := filepath.Join(base, "run", "keyctl-go")
			mkdir(t, dir, os.ModeSticky|0o777)
			return filepath.Join(base, "run"), dir
		}, unix.EPERM},

		{"under a directory open to all", func(t *testing.T, base string) (string, string) {
			mkdir(t, filepath.Join(base, "run"), 0o777)
			return filepath.Join(base, "run"), filepath.Join(base, "run")
		}, unix.EPERM},
	} {
		t.Run(c.name, func(t *testing.T) {
			base := t.TempDir()
			runtimeDir, bad := c.setup(t, base)
			socket := socketIn(runtimeDir)
			before := modes(t, filepath.Dir(socket))
			// CheckUserDir gives the same verdict and makes nothing: a
			// directory still to make is ENOENT.
			checked := daemon.CheckUserDir(filepath.Dir(socket))
			_, existed := before[filepath.Dir(socket)]
			switch {
			case c.want != 0 && (!errors.Is(checked, c.want) || !strings.Contains(checked.Error(), bad+" ")):
				t.Errorf("CheckUserDir: %v; want %v naming %s", checked, c.want, bad)
			case c.want == 0 && existed && checked != nil:
				t.Errorf("CheckUserDir: %v; want nil", checked)
			case c.want == 0 && !existed && !errors.Is(checked, unix.ENOENT):
				t.Errorf("CheckUserDir of a directory not made yet: %v; want ENOENT", checked)
			}
			if _, err := os.Lstat(filepath.Dir(socket)); existed != (err == nil) {
				t.Errorf("CheckUserDir made or removed %s", filepath.Dir(socket))
			}
			err := daemon.PrepareUserSocketDir(socket)
			if c.want != 0 {
				if !errors.Is(err, c.want) || !strings.Contains(err.Error(), bad+" ") {
					t.Fatalf("PrepareUserSocketDir: %v; want %v naming %s", err, c.want, bad)
				}
			} else if err != nil {
				t.Fatal(err)
			} else if err := daemon.CheckUserDir(filepath.Dir(socket)); err != nil {
				t.Errorf("CheckUserDir after PrepareUserSocketDir: %v", err)
			} else if !existed {
				if fi, err := os.Lstat(filepath.Dir(socket)); err != nil || fi.Mode() != os.ModeDir|0o700 {
					t.Errorf("%s: %v, %v; want a directory made with mode 0700", filepath.Dir(socket), fi.Mode(), err)
				}
			}
			for dir, mode := range before {
				if fi, err := os.Lstat(dir); err != nil || fi.Mode() != mode {
					t.Errorf("%s was %v, is now %v (%v)", dir, mode, fi.Mode(), err)
				}
			}
		})
	}

	// Without $XDG_RUNTIME_DIR: a directory of the user's own in the
	// shared, sticky /tmp, which stays as it is; one another user made
	// there first is refused.
	tmp := t.TempDir()
	if err := os.Chmod(tmp, os.ModeSticky|0o777); err != nil {
		t.Fatal(err)
	}
	daemon.SetUserTmp(t, tmp)
	socket := socketIn("")
	if err := daemon.PrepareUserSocketDir(socket); err != nil {
		t.Fatalf("a private directory in a sticky /tmp: %v", err)
	}
	if fi, err := os.Lstat(tmp); err != nil || fi.Mode() != os.ModeDir|os.ModeSticky|0o777 {
		t.Errorf("/tmp is now %v (%v)", fi.Mode(), err)
	}
	if err := os.Chown(filepath.Dir(socket), alice, alice); err != nil {
		t.Fatal(err)
	}
	if err := daemon.PrepareUserSocketDir(socket); !errors.Is(err, unix.EPERM) {
		t.Errorf("a directory in /tmp that another user made first: %v, want EPERM", err)
	}
}
