//go:build linux

package cli

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
	cmd, stderr := startDaemon(t, db, socket)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := daemon.Dial(ctx, socket)
	if err != nil {
		t.Fatal(err)
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

// The daemon command's arguments: anything else is its usage, exit 2.
func TestDaemonCommandArguments(t *testing.T) {
	env := map[string]string{"HOME": t.TempDir()}
	for _, c := range []struct {
		args []string
		errs string
	}{
		{[]string{"daemon", "--bogus"}, daemonFormat + "\n"},
		{[]string{"daemon", "--socket"}, daemonFormat + "\n"},
		{[]string{"daemon", "status", "--bogus"}, daemonStatusFormat + "\n"},
		{[]string{"daemon", "status", "--socket"}, daemonStatusFormat + "\n"},
		{[]string{"daemon", "status", "--system", "--socket", "x"}, daemonStatusFormat + "\n"},
		{[]string{"daemon", "--max-conns-per-uid", "0"}, "keyctl-go daemon: --max-conns-per-uid \"0\": want a number of connections, 1 or more\n"},
		{[]string{"daemon", "--max-conns-per-uid", "many"}, "keyctl-go daemon: --max-conns-per-uid \"many\": want a number of connections, 1 or more\n"},
		{[]string{"daemon", "--quota-keys", "0"}, "keyctl-go daemon: --quota-keys \"0\": not a number from 1 to 4294967295\n"},
		{[]string{"daemon", "--system", "--secret-service"}, "keyctl-go daemon: --secret-service serves one user's session bus, not --system\n"},
	} {
		if out, errs, code := keyctlRunEnv(t, env, c.args...); code != 2 || out != "" || errs != c.errs {
			t.Errorf("%q: exit %d, %q %q; want exit 2, %q", c.args, code, out, errs, c.errs)
		}
	}
}

// keyctlRunEnv runs keyctl-go in-process with the given environment, and
// this run's $XDG_RUNTIME_DIR unless env names one.
func keyctlRunEnv(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	getenv := func(k string) string {
		if v, ok := env[k]; ok || k != "XDG_RUNTIME_DIR" {
			return v
		}
		return os.Getenv(k)
	}
	a := newApp(bytes.NewReader(nil), &out, &errb, getenv)
	code = run(context.Background(), a, args)
	return out.String(), errb.String(), code
}

// storeSocketOf is where the per-user daemon of the store db listens, for
// this run ($XDG_RUNTIME_DIR set by TestMain).
func storeSocketOf(t *testing.T, db string) string {
	t.Helper()
	socket, err := daemon.UserSocket(os.Getenv("XDG_RUNTIME_DIR"), db)
	if err != nil {
		t.Fatal(err)
	}
	return socket
}

// startDaemon runs keyctl-go daemon on db at socket until the test ends,
// and returns once it listens.
func startDaemon(t *testing.T, db, socket string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	stderr := &bytes.Buffer{}
	cmd := exec.Command(keyctlGo, "--db", db, "daemon", "--socket", socket)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := daemon.Dial(context.Background(), socket)
		if err == nil {
			c.Close()
			return cmd, stderr
		}
		if time.Now().After(deadline) {
			t.Fatalf("the daemon never listened: %v\n%s", err, stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// With a daemon serving the store, commands go through it: the daemon
// holds the store's lock, so opening the file here could only fail. A
// session handed down works across the daemon too.
func TestCommandsUseARunningDaemon(t *testing.T) {
	dir := t.TempDir()
	db, socket := filepath.Join(dir, "keys.db"), filepath.Join(dir, "sock")
	startDaemon(t, db, socket)
	env := append(os.Environ(), "KEYCTL_GO_SOCKET="+socket, "KEYCTL_GO_DB=", "KEYCTL_GO_SESSION=")
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(keyctlGo, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("keyctl-go %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	id := strings.TrimSpace(run("add", "user", "shared", "through the daemon", "@u"))
	if got := run("print", id); got != "through the daemon\n" {
		t.Errorf("print through the daemon: %q", got)
	}
	if got := run("describe", "%user:shared"); !strings.HasSuffix(got, " user: shared\n") {
		t.Errorf("describe through the daemon: %q", got)
	}
	got := run("session", "-", "sh", "-c", keyctlGo+" add user in-session v @s >/dev/null && "+keyctlGo+" print %user:in-session")
	if !strings.HasSuffix(got, "v\n") || !strings.HasPrefix(got, "Joined session keyring: ") {
		t.Errorf("session through the daemon: %q", got)
	}

	// A daemon named but not there is an error, not a quiet fallback.
	cmd := exec.Command(keyctlGo, "print", id)
	cmd.Env = append(os.Environ(), "KEYCTL_GO_SOCKET="+filepath.Join(dir, "nothing"))
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("with KEYCTL_GO_SOCKET naming no daemon: %q and no error", out)
	}
}

// daemon status with no daemon at the socket says so, exit 1.
func TestDaemonStatusWithoutDaemon(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "nothing")
	out, errs, code := keyctlRunEnv(t, nil, "daemon", "status", "--socket", socket)
	if code != 1 || out != "" || !strings.HasPrefix(errs, "keyctl-go daemon status: ") || !strings.Contains(errs, socket) {
		t.Errorf("daemon status without a daemon: exit %d, %q, %q", code, out, errs)
	}
}
