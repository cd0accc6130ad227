//go:build linux

package cli

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/internal/childtest"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/perms"
)

// The two users of these tests.
const (
	alice = 1000
	bob   = 1001
)

// asUser is the keyctl-go binary bin run as uid (uid and gid alike), with
// no environment but env, killed when ctx ends.
func asUser(ctx context.Context, bin string, uid uint32, env []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append([]string{"HOME=/nonexistent", "PATH=/usr/bin:/bin"}, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid, Groups: []uint32{}}}
	return cmd
}

// runAsUser runs asUser's command to its end, or kills it after
// commandTimeout, and returns its stdout, stderr and exit code.
func runAsUser(t *testing.T, bin string, uid uint32, env []string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), commandTimeout)
	defer cancel()
	cmd := asUser(ctx, bin, uid, env, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("keyctl-go %q as uid %d still running after %v: %s", args, uid, commandTimeout, errb.String())
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// commandTimeout is how long a command may take before it is taken to
// hang (a daemon that serves when it should have refused to start).
const commandTimeout = 30 * time.Second

// usersDir is a fresh directory owned by uid with mode, under a directory
// every user may enter.
func usersDir(t *testing.T, uid int, mode os.FileMode) string {
	t.Helper()
	base, err := os.MkdirTemp("", "keyctl-go-users-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(base, "dir")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, uid, uid); err != nil {
		t.Fatal(err)
	}
	return dir
}

// A per-user daemon refuses a runtime directory that anyone but its user
// or root could swap: the socket's directory a symbolic link, or another
// user's; $XDG_RUNTIME_DIR itself another user's. It names the directory
// and serves nothing.
func TestPerUserDaemonRefusesUnsafeRuntimeDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to run the daemon as another user")
	}
	bin := publicCopy(t)
	for _, c := range []struct {
		name string
		// setup makes $XDG_RUNTIME_DIR in home, alice's, and returns it
		// and what the daemon must say.
		setup func(t *testing.T, home string) (runtimeDir, want string)
	}{
		{"socket directory a symbolic link", func(t *testing.T, home string) (string, string) {
			run, elsewhere := filepath.Join(home, "run"), filepath.Join(home, "elsewhere")
			mkdirAs(t, run, alice)
			mkdirAs(t, elsewhere, alice)
			if err := os.Symlink(elsewhere, filepath.Join(run, "keyctl-go")); err != nil {
				t.Fatal(err)
			}
			return run, filepath.Join(run, "keyctl-go") + " is a symbolic link"
		}},
		{"socket directory another user's", func(t *testing.T, home string) (string, string) {
			run := filepath.Join(home, "run")
			mkdirAs(t, run, alice)
			mkdirAs(t, filepath.Join(run, "keyctl-go"), bob)
			return run, filepath.Join(run, "keyctl-go") + " belongs to uid 1001"
		}},
		{"runtime directory another user's", func(t *testing.T, home string) (string, string) {
			run := filepath.Join(home, "run")
			mkdirAs(t, run, bob)
			return run, run + " belongs to uid 1001"
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			home := usersDir(t, alice, 0o700)
			runtimeDir, want := c.setup(t, home)
			env := []string{"XDG_RUNTIME_DIR=" + runtimeDir, "KEYCTL_GO_DB=" + filepath.Join(home, "keys.db")}
			out, errs, code := runAsUser(t, bin, alice, env, "daemon")
			if code != 1 || out != "" || !strings.HasPrefix(errs, "keyctl-go daemon: daemon: "+want) {
				t.Errorf("daemon: exit %d, %q %q; want exit 1 saying %q", code, out, errs, want)
			}
		})
	}
}

// mkdirAs makes dir, mode 0700, owned by uid.
func mkdirAs(t *testing.T, dir string, uid int) {
	t.Helper()
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, uid, uid); err != nil {
		t.Fatal(err)
	}
}

// A user's own daemon is theirs alone: its socket is 0600 in a directory
// of theirs, made 0700, where every command naming the store finds it;
// another user's commands, pointed at it, are refused and add nothing.
func TestPerUserDaemonIsPrivate(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to run the daemon and its callers as two users")
	}
	bin := publicCopy(t)
	home := usersDir(t, alice, 0o700)
	run := filepath.Join(home, "run")
	mkdirAs(t, run, alice)
	db := filepath.Join(home, "keys.db")
	env := []string{"XDG_RUNTIME_DIR=" + run, "KEYCTL_GO_DB=" + db}
	d := asUser(context.Background(), bin, alice, env, "daemon")
	var stderr childtest.Log
	d.Stderr = &stderr
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Process.Kill(); d.Wait() })
	socket, err := daemon.UserSocket(run, db)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Lstat(socket); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no socket at %s: %s", socket, stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	for path, want := range map[string]os.FileMode{socket: os.ModeSocket | 0o600, filepath.Dir(socket): os.ModeDir | 0o700} {
		if fi, err := os.Lstat(path); err != nil || fi.Mode() != want {
			t.Errorf("%s: %v, %v; want %v", path, fi.Mode(), err, want)
		}
	}

	// Alice's commands find her daemon, which holds the store.
	id, errs, code := runAsUser(t, bin, alice, env, "add", "user", "mine", "alice's", "@u")
	if code != 0 {
		t.Fatalf("alice adding through her daemon: exit %d, %s", code, errs)
	}
	if out, errs, code := runAsUser(t, bin, alice, env, "print", strings.TrimSpace(id)); code != 0 || out != "alice's\n" {
		t.Errorf("alice printing her key: exit %d, %q %q", code, out, errs)
	}

	// Bob's, pointed at it, reach nothing.
	if out, errs, code := runAsUser(t, bin, bob, []string{"KEYCTL_GO_SOCKET=" + socket}, "add", "user", "planted", "x", "@u"); code != 1 || out != "" || !strings.Contains(errs, "dial "+socket) || !strings.Contains(errs, "permission denied") {
		t.Errorf("bob adding through alice's daemon: exit %d, %q %q", code, out, errs)
	}

	if err := d.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := d.Wait(); err != nil {
		t.Fatalf("alice's daemon after SIGTERM: %v\n%s", err, stderr.String())
	}
	if logged := stderr.String(); !strings.Contains(logged, `msg="daemon: serving"`) || !strings.Contains(logged, "private=true") || !strings.Contains(logged, `msg="daemon: stopped"`) {
		t.Errorf("the daemon's log:\n%s", logged)
	}
	if n := keysOf(t, db, bob); n != 0 {
		t.Errorf("bob has %d keys in alice's store", n)
	}
}

// keysOf is how many keys uid's user keyring in the store at db holds.
func keysOf(t *testing.T, db string, uid uint32) int {
	t.Helper()
	s, err := keyring.Open(db, keyring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p := s.Process(perms.Cred{UID: uid, GID: uid})
	ids, err := p.Keys(t.Context(), keyring.UserKeyring)
	if err != nil {
		return 0 // no user keyring: never served
	}
	return len(ids)
}

// A user who can put a socket where another looks for a daemon (here a
// daemon of bob's own, listening in a shared directory beside alice's
// store, where the daemon of a store named by --db used to be) gets
// nothing from it. Alice's commands look for her store's daemon in her
// private runtime directory, so they never reach bob's; and pointed at
// his socket by name, they refuse it before sending a byte, saying whose
// it is.
func TestImpostorDaemonRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to run two users' processes")
	}
	bin := publicCopy(t)
	shared := usersDir(t, 0, os.ModeSticky|0o777) // as /tmp, or a team's directory
	bobs := usersDir(t, bob, 0o700)
	impostor := filepath.Join(shared, "a.db.sock")
	d := asUser(context.Background(), bin, bob, nil, "--db", filepath.Join(bobs, "keys.db"), "daemon", "--system", "--socket", impostor)
	var stderr childtest.Log
	d.Stderr = &stderr
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Process.Kill(); d.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Lstat(impostor); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bob's daemon never listened: %s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}

	run := filepath.Join(usersDir(t, alice, 0o700), "run")
	mkdirAs(t, run, alice)
	alicesEnv := []string{"XDG_RUNTIME_DIR=" + run}
	want := "keyctl-go: daemon: dial " + impostor + ": the daemon there runs as uid 1001, not as uid 1000 or root: refusing to talk to it: operation not permitted\n"
	if out, errs, code := runAsUser(t, bin, alice, append(alicesEnv, "KEYCTL_GO_SOCKET="+impostor), "add", "user", "token", "S", "@u"); code != 1 || out != "" || errs != want {
		t.Errorf("alice adding through bob's socket: exit %d, %q %q; want %q", code, out, errs, want)
	}
	db := filepath.Join(shared, "a.db")
	if out, errs, code := runAsUser(t, bin, alice, alicesEnv, "--db", db, "add", "user", "token", "S", "@u"); code != 0 || out == "" {
		t.Errorf("alice adding to her store in the shared directory: exit %d, %q %q", code, out, errs)
	}
	if err := d.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := d.Wait(); err != nil {
		t.Fatalf("bob's daemon after SIGTERM: %v\n%s", err, stderr.String())
	}
	if n := keysOf(t, filepath.Join(bobs, "keys.db"), alice); n != 0 {
		t.Errorf("alice's keys went to bob's store: %d there", n)
	}
	if n := keysOf(t, db, alice); n != 1 {
		t.Errorf("alice's store holds %d keys of hers, want 1", n)
	}
}

// A command whose daemon does not answer (wedged, or out of descriptors)
// gives up after the dial timeout and says where it waited, instead of
// hanging.
func TestSilentDaemonTimesOut(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "silent.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: socket, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 4*daemon.DefaultDialTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, keyctlGo, "print", "1")
	cmd.Env = append(os.Environ(), "KEYCTL_GO_SOCKET="+socket)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	took := time.Since(start)
	want := "keyctl-go: daemon: dial " + socket + ": no answer within 5s: connection timed out\n"
	if cmd.ProcessState.ExitCode() != 1 || string(out) != want || took > 2*daemon.DefaultDialTimeout {
		t.Errorf("print through a silent socket: %v after %v, %q; want exit 1, %q", err, took, out, want)
	}
}

// The system daemon's store may be named in a shared directory such as
// /tmp: the directory stays as it is, sticky and open to all; one that
// anybody could swap the store in (writable by all, not sticky) is
// refused, and also left as it is.
func TestDaemonSystemModeLeavesSharedDirs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the system daemon runs as root")
	}
	for _, c := range []struct {
		mode os.FileMode
		ok   bool
	}{
		{os.ModeSticky | 0o777, true},
		{0o777, false},
	} {
		dir := usersDir(t, 0, c.mode)
		socket := filepath.Join(usersDir(t, 0, 0o755), "socket")
		cmd := exec.Command(keyctlGo, "--db", filepath.Join(dir, "keys.db"), "daemon", "--system", "--socket", socket)
		var stderr childtest.Log
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill() })
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		if c.ok {
			deadline := time.Now().Add(10 * time.Second)
			for {
				if _, err := os.Lstat(socket); err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the daemon did not start with its store in a %v directory: %s", c.mode, stderr.String())
				}
				time.Sleep(10 * time.Millisecond)
			}
			cmd.Process.Signal(syscall.SIGTERM)
			if err := <-exited; err != nil {
				t.Errorf("daemon: %v: %s", err, stderr.String())
			}
		} else {
			var err error
			select {
			case err = <-exited:
			case <-time.After(commandTimeout):
				cmd.Process.Kill()
				<-exited
				t.Fatalf("the daemon serves a store in a %v directory", c.mode)
			}
			if want := "keyctl-go daemon: daemon: " + dir + " (mode 0777) is writable by others and not sticky"; err == nil || !strings.HasPrefix(stderr.String(), want) {
				t.Errorf("daemon with its store in a %v directory: %v, %q; want %q", c.mode, err, stderr.String(), want)
			}
		}
		if fi, err := os.Lstat(dir); err != nil || fi.Mode() != os.ModeDir|c.mode {
			t.Errorf("the store's directory, %v before, is now %v (%v)", os.ModeDir|c.mode, fi.Mode(), err)
		}
	}
}
