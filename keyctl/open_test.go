//go:build linux

package keyctl_test

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/internal/childtest"
	"github.com/keyctl-go/keyctl-go/keyctl"
	"github.com/keyctl-go/keyctl-go/keyring"
)

var ctx = context.Background()

// env is one user's world: a home, a runtime directory, and the variables
// the rule reads, with nothing inherited from the test's environment.
type env struct {
	t    testing.TB
	vars map[string]string
	opts keyctl.Options
}

func newEnv(t testing.TB) *env {
	dir := shortTempDir(t)
	e := &env{t: t, vars: map[string]string{
		"HOME":            filepath.Join(dir, "home"),
		"XDG_RUNTIME_DIR": filepath.Join(dir, "run"),
	}}
	if err := os.MkdirAll(e.vars["XDG_RUNTIME_DIR"], 0o700); err != nil {
		t.Fatal(err)
	}
	e.opts = keyctl.Options{
		Getenv:       func(k string) string { return e.vars[k] },
		SystemSocket: filepath.Join(dir, "system", "socket"), // nobody there unless a test serves it
	}
	return e
}

// serve runs a daemon on a store of its own at socket until the test ends;
// private, as a per-user daemon is, unless system.
func (e *env) serve(socket string, system bool) {
	t := e.t
	t.Helper()
	store, err := keyring.Open(filepath.Join(t.TempDir(), "served.db"), keyring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if system {
		err = daemon.PrepareSystemDirs(socket, "")
	} else {
		err = daemon.PrepareUserSocketDir(socket)
	}
	if err != nil {
		t.Fatal(err)
	}
	srv, err := daemon.Listen(socket, store, daemon.Options{Private: !system})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	t.Cleanup(func() { srv.Close(); store.Close() })
}

// open is keyctl.Open, which must succeed by step want at path.
func (e *env) open(want keyctl.Step, path string) keyctl.Caller {
	t := e.t
	t.Helper()
	c, err := keyctl.Open(ctx, e.opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	if r := c.Route(); r.Step != want || r.Path != path {
		t.Fatalf("Open took %v; want %v at %s", r, want, path)
	}
	// And it is a working caller, whichever way it went.
	id, err := c.Add(ctx, "user", "probe", []byte("v"), keyring.UserKeyring)
	if err != nil {
		t.Fatalf("Add through %v: %v", c.Route(), err)
	}
	if got, err := c.Read(ctx, id); err != nil || string(got) != "v" {
		t.Fatalf("Read through %v: %q, %v", c.Route(), got, err)
	}
	return c
}

// shortTempDir is a temporary directory with a short path: a socket's
// path must fit in 108 bytes, and t.TempDir's names the test.
func shortTempDir(t testing.TB) string {
	dir, err := os.MkdirTemp("", "kc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func (e *env) storeSocket() string {
	e.t.Helper()
	s, err := e.opts.StoreSocket()
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// Each step of the rule, taken when it should be, and only then: the
// earlier steps win over the later ones that also apply.
func TestOpenFollowsTheRule(t *testing.T) {
	t.Run("1 a named socket", func(t *testing.T) {
		e := newEnv(t)
		named := filepath.Join(shortTempDir(t), "named.sock")
		e.serve(named, false)
		e.serve(e.opts.SystemSocket, true) // steps 3 and 4 would answer too
		e.serve(e.storeSocket(), false)
		e.vars[keyctl.EnvSocket] = named
		e.open(keyctl.StepSocket, named)
		e.vars[keyctl.EnvSocket] = ""
		e.opts.Socket = named
		e.open(keyctl.StepSocket, named)
	})
	t.Run("2 a named store's daemon", func(t *testing.T) {
		e := newEnv(t)
		e.vars[keyctl.EnvStore] = filepath.Join(t.TempDir(), "named.db")
		e.serve(e.opts.SystemSocket, true) // step 3 is never asked
		e.serve(e.storeSocket(), false)
		e.open(keyctl.StepStoreDaemon, e.storeSocket())
	})
	t.Run("2 a named store's file", func(t *testing.T) {
		e := newEnv(t)
		db := filepath.Join(t.TempDir(), "named.db")
		e.opts.Store = db
		e.serve(e.opts.SystemSocket, true) // step 3 is never asked
		e.open(keyctl.StepStoreFile, db)
		if _, err := os.Stat(db); err != nil {
			t.Errorf("the named store was not made: %v", err)
		}
	})
	t.Run("3 the system daemon", func(t *testing.T) {
		e := newEnv(t)
		e.serve(e.opts.SystemSocket, true)
		e.serve(e.storeSocket(), false) // step 4 would answer too
		e.open(keyctl.StepSystemDaemon, e.opts.SystemSocket)
	})
	t.Run("4 the user's daemon", func(t *testing.T) {
		e := newEnv(t)
		e.serve(e.storeSocket(), false)
		e.open(keyctl.StepUserDaemon, e.storeSocket())
	})
	t.Run("5 the user's store", func(t *testing.T) {
		e := newEnv(t)
		want := filepath.Join(e.vars["HOME"], ".local", "share", "keyctl-go", "keys.db")
		e.open(keyctl.StepUserStore, want)
		e.vars["XDG_DATA_HOME"] = filepath.Join(t.TempDir(), "data")
		e.open(keyctl.StepUserStore, filepath.Join(e.vars["XDG_DATA_HOME"], "keyctl-go", "keys.db"))
	})
}

// The default store named by its path is still the default store: its
// daemon is the one step 4 finds, so a command naming it does not wait
// on a file that daemon holds.
func TestTheDefaultStoreNamedHasItsDaemon(t *testing.T) {
	e := newEnv(t)
	unnamed := e.storeSocket()
	e.vars[keyctl.EnvStore] = filepath.Join(e.vars["HOME"], ".local", "share", "keyctl-go", "keys.db")
	if named := e.storeSocket(); named != unnamed {
		t.Errorf("the default store named by its path has its daemon at %s; want %s", named, unnamed)
	}
	e.vars[keyctl.EnvStore] = filepath.Join(e.vars["HOME"], "other.db")
	if named := e.storeSocket(); named == unnamed {
		t.Errorf("another store's daemon is the default store's, at %s", named)
	}
}

// A socket named and silent is an error: the caller asked for that daemon
// and gets no other, nor a store of its own.
func TestOpenNamedSocketDoesNotGoAround(t *testing.T) {
	e := newEnv(t)
	e.opts.Socket = filepath.Join(t.TempDir(), "nobody.sock")
	_, err := keyctl.Open(ctx, e.opts)
	if err == nil || errors.Is(err, keyctl.ErrNoDaemon) || !strings.Contains(err.Error(), e.opts.Socket) {
		t.Fatalf("Open with a silent named socket: %v; want its dial error", err)
	}
	if _, err := os.Stat(filepath.Join(e.vars["HOME"], ".local")); err == nil {
		t.Error("Open made the user's store after the named socket failed")
	}
}

// Bob cannot split alice's key space by listening where the system
// daemon would: alice's client refuses him (EPERM) and says so, instead
// of quietly going on to her own store, where her keys would then be.
// (That he could listen there at all is a mistake of the machine's: the
// real system socket's directory is root's.)
func TestOpenStopsAtAnUntrustedSystemSocket(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to run a listener as another uid")
	}
	const bob = 1001
	e := newEnv(t)
	dir, err := os.MkdirTemp("", "keyctl-go-hostile-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o777)
	e.opts.SystemSocket = filepath.Join(dir, "socket")
	bin := childtest.CopyBinary(t, "keyctl.test")
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), "KEYCTL_TEST_LISTEN="+e.opts.SystemSocket)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: bob, Gid: bob, Groups: []uint32{}}}
	stdin, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Wait() })
	if line, _ := bufio.NewReader(out).ReadString('\n'); line != "ready\n" {
		t.Fatalf("bob's listener: %q", line)
	}

	_, err = keyctl.Open(ctx, e.opts)
	if !errors.Is(err, unix.EPERM) || !strings.Contains(err.Error(), "system daemon") {
		t.Fatalf("Open with bob at the system socket: %v; want EPERM naming the system daemon", err)
	}
	if _, err := os.Stat(filepath.Join(e.vars["HOME"], ".local")); err == nil {
		t.Error("Open went around bob to the user's own store")
	}
}

// A daemon that hangs up while exiting (idle, say) is not an error: the
// client tries once more, finds nobody, and goes on to the next step.
func TestOpenGoesOnPastADaemonThatExits(t *testing.T) {
	e := newEnv(t)
	if err := os.MkdirAll(filepath.Dir(e.opts.SystemSocket), 0o755); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", e.opts.SystemSocket)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		ln.Close() // the daemon goes, its socket with it
		if err == nil {
			c.Close()
		}
	}()
	e.open(keyctl.StepUserStore, filepath.Join(e.vars["HOME"], ".local", "share", "keyctl-go", "keys.db"))
	<-done
}
