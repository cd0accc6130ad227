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
)

// A per-user daemon's KCM socket is its user's alone, as the daemon's own
// socket is: made 0600, and another uid that reaches it anyway (the
// directory and the socket opened to all after the daemon started) is
// hung up on by the daemon's gate, which logs it. Uid 1001's klist gets
// no cache of the user's.
func TestPerUserDaemonKCMServesItsUserOnly(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to run klist as another uid")
	}
	klist, err := exec.LookPath("klist")
	if err != nil {
		t.Skip("needs MIT's klist (krb5-user)")
	}
	dir, err := os.MkdirTemp("", "keyctl-go-kcm-private-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	kcmSock := filepath.Join(dir, "kcm.sock")
	var stderr bytes.Buffer
	cmd := exec.Command(keyctlGo, "--db", filepath.Join(t.TempDir(), "keys.db"), "daemon",
		"--socket", filepath.Join(dir, "socket"), "--kcm-socket", kcmSock)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.Dial("unix", kcmSock); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no KCM socket: %s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if fi, err := os.Lstat(kcmSock); err != nil || fi.Mode() != os.ModeSocket|0o600 {
		t.Fatalf("the per-user daemon's KCM socket: %v, %v; want a socket of mode 0600", fi.Mode(), err)
	}
	for path, mode := range map[string]os.FileMode{dir: 0o755, kcmSock: 0o666} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
	}
	conf := filepath.Join(dir, "krb5.conf")
	if err := os.WriteFile(conf, []byte("[libdefaults]\n  default_ccache_name = KCM:\n  kcm_socket = "+kcmSock+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	other := exec.Command(klist)
	other.Env = []string{"KRB5_CONFIG=" + conf, "PATH=/usr/bin:/bin"}
	other.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 1001, Gid: 1001, Groups: []uint32{}}}
	// Hung up on, klist cannot even ask which cache is the default; a uid
	// served would be told it has no cache.
	if out, err := other.CombinedOutput(); err == nil || !strings.Contains(string(out), "while resolving ccache") {
		t.Errorf("klist as uid 1001 at a per-user daemon's KCM socket: %v\n%s", err, out)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("daemon after SIGTERM: %v\n%s", err, stderr.String())
	}
	logged := stderr.String()
	if !strings.Contains(logged, `msg="daemon: connection refused" uid=1001 `) || !strings.Contains(logged, "socket="+kcmSock) {
		t.Errorf("uid 1001's refusal at the KCM socket not logged:\n%s", logged)
	}
}
