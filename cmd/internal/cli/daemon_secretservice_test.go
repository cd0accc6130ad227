//go:build linux

package cli

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/keyctl-go/keyctl-go/internal/dbustest"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/keystore"
)

// `keyctl-go daemon --secret-service` answers secret-tool on the session
// bus, its items are keys `keyctl-go show` lists, and a key added with
// the command line is signalled on D-Bus.
func TestDaemonSecretService(t *testing.T) {
	if _, err := exec.LookPath("secret-tool"); err != nil {
		t.Skip("secret-tool is not installed (Debian: libsecret-tools)")
	}
	bus := dbustest.Start(t, dbustest.Options{})
	dir := t.TempDir()
	db, socket := filepath.Join(dir, "keys.db"), filepath.Join(dir, "sock")
	cmd := exec.Command(keyctlGo, "--db", db, "daemon", "--socket", socket, "--secret-service")
	cmd.Env = append(os.Environ(), "DBUS_SESSION_BUS_ADDRESS="+bus.Address)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	conn, err := dbus.Connect(bus.Address)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for deadline := time.Now().Add(10 * time.Second); ; {
		var owned bool
		conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, "org.freedesktop.secrets").Store(&owned)
		if owned {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the daemon never claimed org.freedesktop.secrets")
		}
		time.Sleep(10 * time.Millisecond)
	}
	env := []string{"DBUS_SESSION_BUS_ADDRESS=" + bus.Address, "HOME=" + dir, "PATH=/usr/bin:/bin", envSocket + "=" + socket}
	run := func(stdin string, name string, args ...string) string {
		t.Helper()
		c := exec.Command(name, args...)
		c.Env = env
		c.Stdin = strings.NewReader(stdin)
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		return string(out)
	}
	run("pw", "secret-tool", "store", "--label=from secret-tool", "app", "test")
	if got := run("", "secret-tool", "lookup", "app", "test"); got != "pw" {
		t.Errorf("lookup: %q", got)
	}
	show := run("", keyctlGo, "show", "@u")
	for _, want := range []string{"keyring: secrets", "keyring: login", "big_key: "} {
		if !strings.Contains(show, want) {
			t.Errorf("show @u has no %q:\n%s", want, show)
		}
	}

	conn.AddMatchSignal(dbus.WithMatchInterface("org.freedesktop.Secret.Collection"))
	ch := make(chan *dbus.Signal, 16)
	conn.Signal(ch)
	run("", keyctlGo, "add", "big_key", "from-the-cli", "cli secret", "%keyring:login")
	select {
	case s := <-ch:
		if s.Name != "org.freedesktop.Secret.Collection.ItemCreated" || s.Body[0] != dbus.ObjectPath("/org/freedesktop/secrets/collection/login/from_2dthe_2dcli") {
			t.Errorf("signal %s %v", s.Name, s.Body)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the key added with the command line was not signalled")
	}
	var session dbus.ObjectPath
	var out dbus.Variant
	svc := conn.Object("org.freedesktop.secrets", "/org/freedesktop/secrets")
	if err := svc.Call("org.freedesktop.Secret.Service.OpenSession", 0, "plain", dbus.MakeVariant("")).Store(&out, &session); err != nil {
		t.Fatal(err)
	}
	var secret struct {
		Session     dbus.ObjectPath
		Params      []byte
		Value       []byte
		ContentType string
	}
	item := conn.Object("org.freedesktop.secrets", "/org/freedesktop/secrets/collection/login/from_2dthe_2dcli")
	if err := item.CallWithContext(context.Background(), "org.freedesktop.Secret.Item.GetSecret", 0, session).Store(&secret); err != nil || string(secret.Value) != "cli secret" {
		t.Errorf("the CLI's key over D-Bus: %q, %v", secret.Value, err)
	}
}

func TestDaemonSecretServiceRefusals(t *testing.T) {
	if _, errs, code := keyctlRunEnv(t, nil, "daemon", "--system", "--secret-service"); code != 2 || !strings.Contains(errs, "not --system") {
		t.Errorf("--system --secret-service: exit %d, %q", code, errs)
	}
	env := map[string]string{"KEYCTL_GO_DB": filepath.Join(t.TempDir(), "k.db")}
	if _, errs, code := keyctlRunEnv(t, env, "daemon", "--socket", filepath.Join(t.TempDir(), "s"), "--secret-service"); code != 1 || !strings.Contains(errs, "no $DBUS_SESSION_BUS_ADDRESS") {
		t.Errorf("no session bus: exit %d, %q", code, errs)
	}
}

// The bus starts the daemon from contrib/dbus's service file the first
// time a program asks for the Secret Service, and the daemon stops when
// the bus goes, letting go of the store.
func TestDaemonStartedByTheBus(t *testing.T) {
	if _, err := exec.LookPath("secret-tool"); err != nil {
		t.Skip("secret-tool is not installed (Debian: libsecret-tools)")
	}
	shipped, err := os.ReadFile(filepath.Join("..", "..", "..", "contrib", "dbus", "org.freedesktop.secrets.service"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	db, socket := filepath.Join(dir, "keys.db"), filepath.Join(dir, "sock")
	// The shipped file, run from here: no systemd, this binary, this store.
	var file []string
	for _, line := range strings.Split(string(shipped), "\n") {
		switch {
		case strings.HasPrefix(line, "SystemdService="):
			continue
		case strings.HasPrefix(line, "Exec="):
			if line != "Exec=/usr/bin/keyctl-go daemon --secret-service" {
				t.Fatalf("the shipped Exec line changed: %s", line)
			}
			line = "Exec=" + keyctlGo + " --db " + db + " daemon --socket " + socket + " --secret-service"
		}
		file = append(file, line)
	}
	bus := dbustest.Start(t, dbustest.Options{Services: map[string]string{"org.freedesktop.secrets.service": strings.Join(file, "\n")}})
	env := []string{"DBUS_SESSION_BUS_ADDRESS=" + bus.Address, "HOME=" + dir, "PATH=/usr/bin:/bin"}
	c := exec.Command("secret-tool", "store", "--label=on demand", "app", "activated")
	c.Env, c.Stdin = env, strings.NewReader("started for me")
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("secret-tool store with no daemon running: %v\n%s", err, out)
	}
	c = exec.Command("secret-tool", "lookup", "app", "activated")
	c.Env = env
	if out, err := c.Output(); err != nil || string(out) != "started for me" {
		t.Fatalf("lookup: %q, %v", out, err)
	}
	// The bus started the daemon, not this test: should it outlive the
	// bus, the test kills it by the pid the bus gives.
	conn, err := dbus.Connect(bus.Address)
	if err != nil {
		t.Fatal(err)
	}
	var pid uint32
	err = conn.BusObject().Call("org.freedesktop.DBus.GetConnectionUnixProcessID", 0, "org.freedesktop.secrets").Store(&pid)
	conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(int(pid), syscall.SIGKILL) })
	bus.Stop()
	for deadline := time.Now().Add(10 * time.Second); ; {
		store, err := keyring.Open(db, keyring.Options{Storage: keystore.Options{LockTimeout: 10 * time.Millisecond}})
		if err == nil {
			store.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the daemon did not let go of the store after the bus went: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
