//go:build linux

package requestkey_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/perms"
	"github.com/keyctl-go/keyctl-go/requestkey"
)

// The test binary doubles as the helpers' keyctl: run under that name
// (Options.Keyctl, or "keyctl" found in PATH), it is miniKeyctl.
func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == "keyctl" {
		os.Exit(miniKeyctl(os.Args[1:]))
	}
	goleak.VerifyTestMain(m)
}

const envSocket = "KEYCTL_GO_SOCKET"

// miniKeyctl is as much of keyctl-go as the helpers here need: it reaches
// the store through $KEYCTL_GO_SOCKET, assumes the authority in its
// environment, and then:
//
//	instantiate <key> <data> <ring>
//	negate <key> <timeout> <ring>
//	args <key> <arg>...   instantiate key with the arguments, joined by "|"
//	env <key>             instantiate key with what the environment says
func miniKeyctl(args []string) int {
	ctx := context.Background()
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "keyctl:", err); return 1 }
	c, err := daemon.Dial(ctx, os.Getenv(envSocket))
	if err != nil {
		return fail(err)
	}
	defer c.Close()
	if v := os.Getenv(requestkey.EnvAuthority); v != "" {
		key, tok, err := requestkey.ParseAuthority(v)
		if err != nil {
			return fail(err)
		}
		if _, err := c.AssumeAuthority(ctx, key, tok); err != nil {
			return fail(err)
		}
	}
	serial := func(s string) keyring.Serial { n, _ := strconv.Atoi(s); return keyring.Serial(n) }
	switch args[0] {
	case "instantiate":
		err = c.Instantiate(ctx, serial(args[1]), []byte(args[2]), serial(args[3]))
	case "negate":
		n, _ := strconv.Atoi(args[2])
		err = c.Reject(ctx, serial(args[1]), time.Duration(n)*time.Second, unix.ENOKEY, serial(args[3]))
	case "args":
		err = c.Instantiate(ctx, serial(args[1]), []byte(strings.Join(args[2:], "|")), 0)
	case "env":
		path := strings.Split(os.Getenv("PATH"), ":")
		_, linkErr := os.Stat(filepath.Join(path[0], "keyctl"))
		cwd, _ := os.Getwd()
		said := fmt.Sprintf("HOME=%s PATH=%s keyctl-first=%v authority=%v leaked=%q cwd=%s uid=%d",
			os.Getenv("HOME"), strings.Join(path[1:], ":"), linkErr == nil, os.Getenv(requestkey.EnvAuthority) != "",
			os.Getenv("REQUESTKEY_TEST_SECRET"), cwd, os.Getuid())
		err = c.Instantiate(ctx, serial(args[1]), []byte(said), 0)
	default:
		err = fmt.Errorf("unknown command %q", args[0])
	}
	if err != nil {
		return fail(err)
	}
	return 0
}

// env is a store served on a private socket, a requester with a session,
// and options for its helpers.
type env struct {
	t       *testing.T
	store   *keyring.Store
	req     *keyring.Process
	session keyring.Serial
	opts    requestkey.Options
	dir     string
}

func newEnv(t *testing.T, conf string) *env {
	t.Helper()
	dir := t.TempDir()
	store, err := keyring.Open(filepath.Join(dir, "keys.db"), keyring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock")
	srv, err := daemon.Listen(sock, store, daemon.Options{})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cred := perms.Cred{UID: uint32(os.Getuid()), GID: uint32(os.Getgid())}
	e := &env{t: t, store: store, req: store.Process(cred), dir: dir}
	e.session, err = e.req.JoinSession(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	conf = strings.ReplaceAll(conf, "$DIR", dir)
	if err := os.WriteFile(filepath.Join(dir, "request-key.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	e.opts = requestkey.Options{
		ConfDir: dir,
		Timeout: 10 * time.Second,
		Keyctl:  self,
		Env:     []string{envSocket + "=" + sock},
		Helper: func(context.Context) (keyring.Caller, func() error, error) {
			h := store.Process(cred)
			return h, func() error { return h.Release(context.Background()) }, nil
		},
	}
	t.Cleanup(func() {
		e.req.Release(context.Background())
		srv.Close()
		<-served
		if err := store.Check(); err != nil {
			t.Errorf("store inconsistent: %v", err)
		}
		store.Close()
	})
	return e
}

func (e *env) request(desc, callout string) (keyring.Serial, error) {
	return requestkey.Request(context.Background(), e.req, "user", desc, []byte(callout), 0, e.opts)
}

func (e *env) payload(id keyring.Serial) string {
	e.t.Helper()
	b, err := e.req.Read(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return string(b)
}

// writeScript puts an executable shell script in the test's directory.
func (e *env) writeScript(name, body string) {
	e.t.Helper()
	if err := os.WriteFile(filepath.Join(e.dir, name), []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		e.t.Fatal(err)
	}
}

func TestHelperInstantiates(t *testing.T) {
	e := newEnv(t, "create user debug:* * /bin/keyctl instantiate %k %c %S\n")
	id, err := e.request("debug:lizard", "gizzard")
	if err != nil {
		t.Fatal(err)
	}
	if got := e.payload(id); got != "gizzard" {
		t.Fatalf("payload %q", got)
	}
	keys, _ := e.req.Keys(context.Background(), e.session)
	if len(keys) != 1 || keys[0] != id {
		t.Fatalf("session holds %v", keys)
	}
	// Found the second time, without a helper.
	if again, err := e.request("debug:lizard", "other"); err != nil || again != id {
		t.Fatalf("second request: %v, %v", again, err)
	}
}

func TestHelperGetsTheMacros(t *testing.T) {
	e := newEnv(t, "create user * * /usr/bin/keyctl args %k %o %t %d %c %u %g %T %P %S %%lit %x2 %{user:sub}\n")
	if _, err := e.req.Add(context.Background(), "user", "sub", []byte("substituted"), e.session); err != nil {
		t.Fatal(err)
	}
	id, err := e.request("d", "info")
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("create|user|d|info|%d|%d|0|0|%d|%%lit|%%x2|substituted", os.Getuid(), os.Getgid(), e.session)
	if got := e.payload(id); got != want {
		t.Fatalf("arguments %q, want %q", got, want)
	}
}

func TestHelperEnvironment(t *testing.T) {
	t.Setenv("REQUESTKEY_TEST_SECRET", "not for the helper")
	e := newEnv(t, "create user * * $DIR/env.sh %k\n")
	e.writeScript("env.sh", `exec keyctl env "$1"`+"\n")
	id, err := e.request("d", "i")
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`HOME=/ PATH=/sbin:/bin:/usr/sbin:/usr/bin keyctl-first=true authority=true leaked="" cwd=/ uid=%d`, os.Getuid())
	if got := e.payload(id); got != want {
		t.Fatalf("the helper saw %s\nwant %s", got, want)
	}
}

func TestPipeHelper(t *testing.T) {
	e := newEnv(t, "create user debug:loop:* * |/bin/cat\n")
	id, err := e.request("debug:loop:x", "abcdef")
	if err != nil {
		t.Fatal(err)
	}
	if got := e.payload(id); got != "abcdef" {
		t.Fatalf("payload %q", got)
	}
}

func TestFailedPipeHelperNegates(t *testing.T) {
	e := newEnv(t, "create user * * |$DIR/fail.sh\nnegate * * * $DIR/negate.sh %k\n")
	e.writeScript("fail.sh", "cat >/dev/null; echo failing >&2; exit 3\n")
	e.writeScript("negate.sh", "echo negated >>"+filepath.Join(e.dir, "ran")+"\nexec keyctl negate \"$1\" 7 0\n")
	_, err := e.request("d", "i")
	if !errors.Is(err, unix.ENOKEY) {
		t.Fatalf("request = %v, want ENOKEY", err)
	}
	if ran, _ := os.ReadFile(filepath.Join(e.dir, "ran")); string(ran) != "negated\n" {
		t.Fatalf("negate line ran %q", ran)
	}
	// Negative caching: the next request fails at once, and runs nothing.
	if _, err := e.request("d", "i"); !errors.Is(err, unix.ENOKEY) {
		t.Fatalf("second request = %v, want ENOKEY", err)
	}
	if ran, _ := os.ReadFile(filepath.Join(e.dir, "ran")); string(ran) != "negated\n" {
		t.Fatalf("a helper ran again: %q", ran)
	}
}

func TestPipeHelperWritingTooMuch(t *testing.T) {
	e := newEnv(t, "create user * * |/bin/head -c "+strconv.Itoa(requestkey.MaxPipePayload+1)+" /dev/zero\n")
	if _, err := e.request("d", "i"); !errors.Is(err, unix.ENOKEY) {
		t.Fatalf("request = %v, want ENOKEY", err)
	}
	// 32767 bytes, the most a user key takes, go through.
	e2 := newEnv(t, "create user * * |/bin/head -c "+strconv.Itoa(requestkey.MaxPipePayload-1)+" /dev/zero\n")
	id, err := e2.request("d", "i")
	if err != nil {
		t.Fatal(err)
	}
	if got := e2.payload(id); len(got) != requestkey.MaxPipePayload-1 {
		t.Fatalf("%d bytes", len(got))
	}
}

func TestNoMatchingLineNegates(t *testing.T) {
	e := newEnv(t, "create logon * * /bin/keyctl instantiate %k x 0\n")
	if _, err := e.request("d", "i"); !errors.Is(err, unix.ENOKEY) {
		t.Fatalf("request = %v, want ENOKEY", err)
	}
}

// A helper that hangs is killed after the timeout with its process group,
// and the key negated.
func TestHangingHelperIsKilled(t *testing.T) {
	e := newEnv(t, "create user * * $DIR/hang.sh\n")
	pidFile := filepath.Join(e.dir, "pid")
	e.writeScript("hang.sh", "sleep 1000 &\necho $! >"+pidFile+"\nwait\n")
	e.opts.Timeout = 300 * time.Millisecond
	start := time.Now()
	_, err := e.request("d", "i")
	if !errors.Is(err, unix.ENOKEY) {
		t.Fatalf("request = %v, want ENOKEY", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("took %v", took)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("the helper's child %d outlived it", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
