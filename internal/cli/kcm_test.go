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
	dir := t.TempDir()
	db := filepath.Join(dir, "keys.db")
	kcmSock := filepath.Join(dir, "kcm.sock")
	stderr := &bytes.Buffer{}
	cmd := exec.Command(keyctlGo, "--db", db, "daemon", "--kcm-socket", kcmSock)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	// The KCM socket is bound before the daemon's own: a watcher started
	// between the two would find no daemon and the store locked.
	dsock, err := daemon.UserSocket(os.Getenv("XDG_RUNTIME_DIR"), db)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		if listening(kcmSock) && listening(dsock) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no KCM socket: %s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	base, err := os.ReadFile(filepath.Join(k.Dir, "krb5.conf"))
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "krb5.conf")
	os.WriteFile(conf, []byte(strings.Replace(string(base), "[libdefaults]\n", "[libdefaults]\n  default_ccache_name = KCM:\n  kcm_socket = "+kcmSock+"\n", 1)), 0o644)
	mit := func(stdin, name string, args ...string) string {
		t.Helper()
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
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return string(out)
	}

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
