//go:build linux

package cli

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/internal/kdctest"
)

// keyctl-go daemon --kcm-socket serves MIT's KCM cache type beside the
// daemon's own socket, from the same store: kinit through KCM is heard by
// a krb5 watch (through the daemon), listed by krb5 list, and a krb5
// import shows in klist; SIGTERM stops both.
func TestDaemonServesKCM(t *testing.T) {
	k := kdctest.Start(t)
	d := startKCMDaemon(t, k)
	db, dir, mit, cmd, stderr := d.db, d.dir, d.mit, d.cmd, d.stderr

	w := startWatcher(t, db, "KCM watcher", "krb5", "watch", "KEYRING:persistent:0")
	mit(kdctest.Password["alice"]+"\n", "kinit", "-r", "2d", "alice")
	w.expect("kinit through KCM", "created KEYRING:persistent:0:0")
	if out := krb5Run(t, db, "krb5", "list"); !strings.Contains(out, "alice@TEST.LOCAL") || !strings.Contains(out, "KEYRING:persistent:0:0") {
		t.Fatalf("krb5 list after kinit through KCM:\n%s", out)
	}
	file := filepath.Join(dir, "bob.cc")
	k.Kinit(t, file, "bob")
	krb5Run(t, db, "krb5", "import", file)
	if out := mit("", "klist", "-l"); !strings.Contains(out, "bob@TEST.LOCAL") || !strings.Contains(out, "alice@TEST.LOCAL") {
		t.Fatalf("klist -l after krb5 import:\n%s", out)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("daemon after SIGTERM: %v\n%s", err, stderr.String())
	}
}

// kcmDaemon is a keyctl-go daemon serving KCM beside its own socket, and
// MIT's tools pointed at it.
type kcmDaemon struct {
	db, dir string
	cmd     *exec.Cmd
	stderr  *bytes.Buffer
	// mit runs one of MIT's programs with the KDC's realm and KCM as the
	// default cache, fed stdin, and fails the test if it fails.
	mit func(stdin, name string, args ...string) string
	// try is mit without the failing: the output and the error.
	try func(stdin, name string, args ...string) (string, error)
}

// startKCMDaemon starts `keyctl-go daemon --kcm-socket` with args after
// it, on a new store, for the KDC k.
func startKCMDaemon(t *testing.T, k *kdctest.KDC, args ...string) *kcmDaemon {
	t.Helper()
	d := &kcmDaemon{dir: t.TempDir(), stderr: &bytes.Buffer{}}
	d.db = filepath.Join(d.dir, "keys.db")
	kcmSock := filepath.Join(d.dir, "kcm.sock")
	d.cmd = exec.Command(keyctlGo, append([]string{"--db", d.db, "daemon", "--kcm-socket", kcmSock}, args...)...)
	d.cmd.Stderr = d.stderr
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.cmd.Process.Kill(); d.cmd.Wait() })
	// The KCM socket is bound before the daemon's own: a watcher started
	// between the two would find no daemon and the store locked.
	dsock, err := daemon.UserSocket(os.Getenv("XDG_RUNTIME_DIR"), d.db)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		if listening(kcmSock) && listening(dsock) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no KCM socket: %s", d.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	base, err := os.ReadFile(filepath.Join(k.Dir, "krb5.conf"))
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(d.dir, "krb5.conf")
	os.WriteFile(conf, []byte(strings.Replace(string(base), "[libdefaults]\n", "[libdefaults]\n  default_ccache_name = KCM:\n  kcm_socket = "+kcmSock+"\n", 1)), 0o644)
	d.try = func(stdin, name string, args ...string) (string, error) {
		c := k.Command(name, args...)
		var env []string
		for _, kv := range c.Env {
			if !strings.HasPrefix(kv, "KRB5CCNAME=") && !strings.HasPrefix(kv, "KRB5_CONFIG=") {
				env = append(env, kv)
			}
		}
		c.Env = append(env, "KRB5_CONFIG="+conf)
		c.Stdin = strings.NewReader(stdin)
		out, err := c.CombinedOutput()
		return string(out), err
	}
	d.mit = func(stdin, name string, args ...string) string {
		t.Helper()
		out, err := d.try(stdin, name, args...)
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return out
	}
	return d
}

// --kcm-max-caches and --kcm-max-cache-bytes reach the KCM server: with
// one cache allowed, a kinit into a second fails as with sssd-kcm and
// makes nothing; with a cache too small for a TGT, kinit fails.
func TestDaemonKCMLimits(t *testing.T) {
	k := kdctest.Start(t)
	d := startKCMDaemon(t, k, "--kcm-max-caches", "1")
	d.mit(kdctest.Password["alice"]+"\n", "kinit", "alice")
	out, err := d.try(kdctest.Password["alice"]+"\n", "kinit", "-c", "KCM:0:77777", "alice")
	if err == nil || !strings.Contains(out, "Internal credentials cache error") {
		t.Fatalf("kinit into a second cache with --kcm-max-caches 1: %v\n%s", err, out)
	}
	if out := d.mit("", "klist", "-l"); strings.Count(out, "@TEST.LOCAL") != 1 {
		t.Fatalf("klist -l after the refused kinit:\n%s", out)
	}

	small := startKCMDaemon(t, k, "--kcm-max-cache-bytes", "100")
	if out, err := small.try(kdctest.Password["alice"]+"\n", "kinit", "alice"); err == nil {
		t.Fatalf("kinit into a 100-byte cache succeeded:\n%s", out)
	}

	_, errs, code := keyctlRunEnv(t, map[string]string{envDB: filepath.Join(t.TempDir(), "k.db")}, "daemon", "--kcm-max-caches", "0")
	if code != 2 || !strings.Contains(errs, "--kcm-max-caches") {
		t.Fatalf("daemon --kcm-max-caches 0: exit %d, %q", code, errs)
	}
}

// listening reports whether something accepts connections at socket.
func listening(socket string) bool {
	c, err := net.Dial("unix", socket)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// --kcm alone names the system's KCM socket: without --system it is a
// usage error, not a daemon listening somewhere unexpected.
func TestDaemonKCMNeedsSystem(t *testing.T) {
	_, errs, code := keyctlRunEnv(t, map[string]string{envDB: filepath.Join(t.TempDir(), "k.db")}, "daemon", "--kcm")
	if code != 2 || !strings.Contains(errs, "--kcm names the system's KCM socket") {
		t.Fatalf("daemon --kcm: exit %d, %q", code, errs)
	}
}
