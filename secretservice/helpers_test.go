//go:build linux

package secretservice_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/keyctl-go/keyctl-go/internal/dbustest"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/perms"
	"github.com/keyctl-go/keyctl-go/secrets"
	"github.com/keyctl-go/keyctl-go/secretservice"
)

func TestMain(m *testing.M) {
	if code, ok := childMain(); ok {
		os.Exit(code)
	}
	goleak.VerifyTestMain(m)
}

// env is a private bus, a real store in a temporary directory, and the
// provider serving the one from the other as the test's uid.
type env struct {
	bus   *dbustest.Bus
	path  string // the store's file
	store *keyring.Store
	st    *secrets.Store
	prov  *secretservice.Provider
	owner uint32
}

func self() perms.Cred { return perms.Cred{UID: uint32(os.Getuid()), GID: uint32(os.Getgid())} }

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{bus: dbustest.Start(t, dbustest.Options{}), path: filepath.Join(t.TempDir(), "keys.db"), owner: uint32(os.Getuid())}
	e.open(t)
	return e
}

// open opens the store and starts the provider; stop undoes it.
func (e *env) open(t testing.TB) {
	t.Helper()
	store, err := keyring.Open(e.path, keyring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := store.Process(self())
	e.store, e.st = store, secrets.New(p, secrets.Options{})
	prov, err := secretservice.Connect(context.Background(), e.bus.Address, e.st, secretservice.Options{Owner: e.owner})
	if err != nil {
		store.Close()
		t.Fatal(err)
	}
	e.prov = prov
	t.Cleanup(func() { e.stop(t) })
}

func (e *env) stop(t testing.TB) {
	t.Helper()
	if e.prov == nil {
		return
	}
	if err := e.prov.Close(); err != nil {
		t.Errorf("provider Close: %v", err)
	}
	e.prov = nil
	if err := e.store.Check(); err != nil {
		t.Errorf("store inconsistent: %v", err)
	}
	e.store.Close()
}

// clientEnv is a client's environment: the private bus as its session
// bus, and nothing of the machine's desktop.
func (e *env) clientEnv() []string {
	return []string{"DBUS_SESSION_BUS_ADDRESS=" + e.bus.Address, "HOME=" + os.TempDir(), "PATH=/usr/bin:/bin", "LANG=C.UTF-8"}
}

// run runs a client program, which must be installed.
func (e *env) run(t testing.TB, stdin string, name string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = e.clientEnv()
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// need skips the test without a program.
func need(t testing.TB, prog, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(prog)
	if err != nil {
		t.Skipf("%s is not installed (Debian: %s)", prog, pkg)
	}
	return path
}
