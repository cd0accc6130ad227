//go:build linux

package secretservice_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/keyctl-go/keyctl-go/internal/childtest"
	"github.com/keyctl-go/keyctl-go/internal/dbustest"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/perms"
	"github.com/keyctl-go/keyctl-go/secrets"
	"github.com/keyctl-go/keyctl-go/secretservice"
)

// bob is the other user of these tests: a uid with an entry in
// /etc/passwd, since dbus-daemon looks up a client's groups and drops one
// it cannot find. It is nobody, not the machine's first user (1000): the
// kernel-oracle tests elsewhere act as uid 1000 on the machine's own
// keyrings, and its processes here upset theirs.
const bob = 65534

// runAs runs a program as uid (and gid) with env.
func runAs(t testing.TB, uid uint32, env []string, stdin, name string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid, Groups: []uint32{}}}
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

// needBob skips a test on a machine where bob has no account.
func needBob(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the other user is a real process of another uid")
	}
	if _, err := user.LookupId(fmt.Sprint(bob)); err != nil {
		t.Skipf("uid %d has no account here, and dbus-daemon refuses a uid it cannot look up", bob)
	}
}

// publicDir is a temporary directory every user may enter.
func publicDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "keyctl-go-secretservice-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// On a bus that lets every user connect, a process of another uid than
// the store's owner is refused every call, whatever it asks, and learns
// and changes nothing; the owner's calls go on.
func TestAnotherUserIsRefused(t *testing.T) {
	needBob(t)
	need(t, "secret-tool", "libsecret-tools")
	need(t, "dbus-send", "dbus-bin")
	bus := dbustest.Start(t, dbustest.Options{AnyUser: true, Dir: publicDir(t)})
	e := &env{bus: bus, path: filepath.Join(t.TempDir(), "keys.db"), owner: uint32(os.Getuid())}
	e.open(t)
	if _, errs, code := e.run(t, "owner's", "secret-tool", "store", "--label=x", "k", "v"); code != 0 {
		t.Fatalf("the owner's store: %d %s", code, errs)
	}
	env := e.clientEnv()
	for _, call := range [][]string{
		{"/org/freedesktop/secrets", "org.freedesktop.Secret.Service.SearchItems", "dict:string:string:k,v"},
		{"/org/freedesktop/secrets", "org.freedesktop.Secret.Service.OpenSession", "string:plain", "variant:string:"},
		{"/org/freedesktop/secrets", "org.freedesktop.Secret.Service.ReadAlias", "string:default"},
		{"/org/freedesktop/secrets/collection/login", "org.freedesktop.DBus.Properties.GetAll", "string:org.freedesktop.Secret.Collection"},
		{"/org/freedesktop/secrets/collection/login", "org.freedesktop.Secret.Collection.Delete"},
		{"/org/freedesktop/secrets", "org.freedesktop.DBus.Introspectable.Introspect"},
	} {
		args := append([]string{"--bus=" + bus.Address, "--print-reply", "--dest=org.freedesktop.secrets"}, call...)
		out, errs, code := runAs(t, bob, env, "", "dbus-send", args...)
		if code == 0 || !strings.Contains(errs, "org.freedesktop.DBus.Error.AccessDenied") {
			t.Errorf("uid %d: %s: exit %d, %q %q; want AccessDenied", bob, call[1], code, out, errs)
		}
	}
	if out, _, code := runAs(t, bob, env, "", "secret-tool", "lookup", "k", "v"); code == 0 || out != "" {
		t.Errorf("uid %d's secret-tool lookup: exit %d, %q", bob, code, out)
	}
	if _, _, code := runAs(t, bob, env, "intruder's", "secret-tool", "store", "--label=y", "k", "v"); code == 0 {
		t.Errorf("uid %d's secret-tool store succeeded", bob)
	}
	if out, _, code := e.run(t, "", "secret-tool", "lookup", "k", "v"); code != 0 || out != "owner's" {
		t.Errorf("the owner's lookup after: exit %d, %q", code, out)
	}
	if items, _ := e.st.List(context.Background(), "login"); len(items) != 1 {
		t.Errorf("the store holds %d items", len(items))
	}
}

// Two users, each with a bus of their own and a store of their own, as
// two desktop sessions have: neither sees the other's secrets, and
// neither may use the other's bus.
func TestTwoUsersNeverMeet(t *testing.T) {
	needBob(t)
	need(t, "secret-tool", "libsecret-tools")
	e := newEnv(t)
	bobDir, err := os.MkdirTemp("", "keyctl-go-bob-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(bobDir) })
	if err := os.Chown(bobDir, bob, bob); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(bobDir, 0o700); err != nil {
		t.Fatal(err)
	}
	cred := &syscall.Credential{Uid: bob, Gid: bob, Groups: []uint32{}}
	bobBus := dbustest.Start(t, dbustest.Options{Dir: bobDir, Credential: cred})
	bobStore := filepath.Join(bobDir, "keys.db")

	// Bob's provider: the test binary as bob, serving his store on his bus.
	bin := childtest.CopyBinary(t, "secretservice.test")
	child := exec.Command(bin)
	child.Env = []string{childEnv + "=provider", "BUS=" + bobBus.Address, "STORE=" + bobStore}
	child.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	stdin, _ := child.StdinPipe()
	stdout, _ := child.StdoutPipe()
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	waited := false
	defer func() {
		if !waited {
			stdin.Close()
			child.Wait()
		}
	}()
	if line, _ := bufio.NewReader(stdout).ReadString('\n'); line != "ready\n" {
		t.Fatalf("bob's provider said %q", line)
	}
	bobEnv := []string{"DBUS_SESSION_BUS_ADDRESS=" + bobBus.Address, "HOME=/nonexistent", "PATH=/usr/bin:/bin"}

	if _, errs, code := e.run(t, "root's", "secret-tool", "store", "--label=r", "k", "v"); code != 0 {
		t.Fatalf("root's store: %s", errs)
	}
	if _, errs, code := runAs(t, bob, bobEnv, "bob's", "secret-tool", "store", "--label=b", "k", "v"); code != 0 {
		t.Fatalf("bob's store: %s", errs)
	}
	if out, _, _ := e.run(t, "", "secret-tool", "lookup", "k", "v"); out != "root's" {
		t.Errorf("root looks up %q", out)
	}
	if out, _, _ := runAs(t, bob, bobEnv, "", "secret-tool", "lookup", "k", "v"); out != "bob's" {
		t.Errorf("bob looks up %q", out)
	}
	// Each on the other's bus: not let in.
	if out, _, code := runAs(t, bob, e.clientEnv(), "", "secret-tool", "lookup", "k", "v"); code == 0 || out != "" {
		t.Errorf("bob on root's bus: exit %d, %q", code, out)
	}
	if out, _, code := runAs(t, 0, bobEnv, "", "secret-tool", "lookup", "k", "v"); code == 0 || out != "" {
		t.Errorf("root's process on bob's bus: exit %d, %q", code, out)
	}
	stdin.Close()
	waited = true
	if err := child.Wait(); err != nil {
		t.Fatalf("bob's provider: %v", err)
	}

	// Bob's store holds bob's secret, root's root's, and nothing else.
	if items, _ := e.st.List(context.Background(), "login"); len(items) != 1 {
		t.Errorf("root's store holds %d items", len(items))
	}
	store, err := keyring.Open(bobStore, keyring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	p := store.Process(perms.Cred{UID: bob, GID: bob})
	defer p.Release(context.Background())
	items, err := secrets.New(p, secrets.Options{}).Find(context.Background(), "login", map[string]string{"k": "v"})
	if err != nil || len(items) != 1 {
		t.Fatalf("bob's store: %v, %v", items, err)
	}
	if got, _ := secrets.New(p, secrets.Options{}).Get(context.Background(), "login", items[0].Account); string(got) != "bob's" {
		t.Errorf("bob's store holds %q", got)
	}
}

// providerChild serves a store on a bus as the child's own uid until its
// stdin closes.
func providerChild() int {
	store, err := keyring.Open(os.Getenv("STORE"), keyring.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer store.Close()
	p := store.Process(perms.Cred{UID: uint32(os.Getuid()), GID: uint32(os.Getgid())})
	prov, err := secretservice.Connect(context.Background(), os.Getenv("BUS"), secrets.New(p, secrets.Options{}), secretservice.Options{Owner: uint32(os.Getuid())})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	prov.Close()
	p.Release(context.Background())
	return 0
}
