//go:build linux

package kcm_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/keyctl-go/keyctl-go/internal/kdctest"
	"github.com/keyctl-go/keyctl-go/kcm"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/krb5ring"
	"github.com/keyctl-go/keyctl-go/perms"
)

func TestMain(m *testing.M) {
	if task := os.Getenv(childEnv); task != "" {
		os.Exit(runChild(task))
	}
	goleak.VerifyTestMain(m)
}

var ctx = context.Background()

// env is a loopback KDC, a store in a temp dir, a KCM server on it, and a
// krb5.conf that sends MIT's tools to that server: default_ccache_name
// KCM: (so caches form a collection) and kcm_socket the server's socket.
// The socket and the krb5.conf are in a directory every uid may enter, so
// that children run as other uids reach them.
type env struct {
	t     testing.TB
	kdc   *kdctest.KDC
	dir   string
	sock  string
	conf  string
	db    string
	opts  kcm.Options
	store *keyring.Store
	srv   *kcm.Server
	done  chan error
}

func newEnv(t testing.TB, opts kcm.Options) *env {
	t.Helper()
	k := kdctest.Start(t)
	dir, err := os.MkdirTemp("", "kcm-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, kdc: k, dir: dir, sock: filepath.Join(dir, "kcm.sock"), conf: filepath.Join(dir, "krb5.conf"),
		db: filepath.Join(t.TempDir(), "keys.db"), opts: opts}
	base, err := os.ReadFile(filepath.Join(k.Dir, "krb5.conf"))
	if err != nil {
		t.Fatal(err)
	}
	conf := strings.Replace(string(base), "[libdefaults]\n",
		"[libdefaults]\n  default_ccache_name = KCM:\n  kcm_socket = "+e.sock+"\n", 1)
	if err := os.WriteFile(e.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	e.start()
	t.Cleanup(e.stop)
	return e
}

// start opens the store and serves it.
func (e *env) start() {
	e.t.Helper()
	s, err := keyring.Open(e.db, keyring.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	ln, err := kcm.Listen(e.sock, e.opts.Private)
	if err != nil {
		s.Close()
		e.t.Fatal(err)
	}
	e.store, e.srv, e.done = s, kcm.NewServer(s, e.opts), make(chan error, 1)
	go func(srv *kcm.Server) { e.done <- srv.Serve(ln) }(e.srv)
}

// stop closes the server and the store, checking the store.
func (e *env) stop() {
	if e.srv == nil {
		return
	}
	if err := e.srv.Close(); err != nil {
		e.t.Errorf("close the KCM server: %v", err)
	}
	if err := <-e.done; err != nil {
		e.t.Errorf("Serve: %v", err)
	}
	if err := e.store.Check(); err != nil {
		e.t.Errorf("store inconsistent: %v", err)
	}
	if err := e.store.Close(); err != nil {
		e.t.Errorf("close the store: %v", err)
	}
	e.srv, e.store = nil, nil
}

// restart stops the server and the store and starts both again.
func (e *env) restart() {
	e.t.Helper()
	e.stop()
	e.start()
}

// environ is the tools' environment: the KCM krb5.conf, no KRB5CCNAME.
func (e *env) environ() []string {
	var out []string
	for _, kv := range e.kdc.Env() {
		if strings.HasPrefix(kv, "KRB5CCNAME=") || strings.HasPrefix(kv, "KRB5_CONFIG=") {
			continue
		}
		out = append(out, kv)
	}
	return append(out, "KRB5_CONFIG="+e.conf)
}

// command is an MIT tool run against the KCM server, as uid 0 unless
// cred says otherwise.
func (e *env) command(cred *perms.Cred, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Env = e.environ()
	cmd.Dir = e.dir
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: cred.UID, Gid: cred.GID}}
	}
	return cmd
}

// result is what a tool did.
type result struct {
	out, err string
	code     int
}

func (e *env) try(cred *perms.Cred, stdin, name string, args ...string) result {
	return e.run1(cred, stdin, 0, name, args...)
}

// tryWithin is try with the tool killed after d: one waiting for a
// server that does not answer fails instead of hanging the test.
func (e *env) tryWithin(cred *perms.Cred, d time.Duration, name string, args ...string) result {
	return e.run1(cred, "", d, name, args...)
}

// run1 runs a tool, killed after d unless d is 0.
func (e *env) run1(cred *perms.Cred, stdin string, d time.Duration, name string, args ...string) result {
	cmd := e.command(cred, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Start()
	if err == nil {
		if d > 0 {
			kill := time.AfterFunc(d, func() { cmd.Process.Kill() })
			defer kill.Stop()
		}
		err = cmd.Wait()
	}
	r := result{out: out.String(), err: errb.String()}
	if err != nil {
		r.code = -1
		if ee, ok := err.(*exec.ExitError); ok {
			r.code = ee.ExitCode()
		}
	}
	return r
}

// run runs a tool as root and returns its output; it fails the test if
// the tool fails.
func (e *env) run(name string, args ...string) string {
	e.t.Helper()
	return e.runAs(nil, name, args...)
}

func (e *env) runAs(cred *perms.Cred, name string, args ...string) string {
	e.t.Helper()
	r := e.try(cred, "", name, args...)
	if r.code != 0 {
		e.t.Fatalf("%s %s: exit %d\n%s%s", name, strings.Join(args, " "), r.code, r.out, r.err)
	}
	return r.out
}

// kinit gets user's TGT through KCM.
func (e *env) kinit(cred *perms.Cred, user string, args ...string) {
	e.t.Helper()
	r := e.try(cred, kdctest.Password[user]+"\n", "kinit", append(args, user)...)
	if r.code != 0 {
		e.t.Fatalf("kinit %s: exit %d\n%s%s", user, r.code, r.out, r.err)
	}
}

// collection opens uid's KEYRING collection in the store, as keyctl-go
// krb5 list does for that uid.
func (e *env) collection(uid uint32) *krb5ring.Collection {
	e.t.Helper()
	p := e.store.Process(perms.Cred{UID: uid, GID: uid})
	e.t.Cleanup(func() { p.Release(ctx) })
	name, err := krb5ring.ParseName("KEYRING:persistent:" + uitoa(uid))
	if err != nil {
		e.t.Fatal(err)
	}
	col, err := krb5ring.Open(ctx, p, name, krb5ring.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	return col
}

func uitoa(u uint32) string { return strconv.FormatUint(uint64(u), 10) }

// kcmRoot is uid 0, as the tests' MIT tools run.
var kcmRoot = perms.Cred{UID: 0, GID: 0}
