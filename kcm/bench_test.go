//go:build linux

package kcm_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyctl-go/keyctl-go/internal/kdctest"
	"github.com/keyctl-go/keyctl-go/kcm"
)

// The benchmarks run MIT's tools, exec'd, against a KCM server and the
// loopback KDC: ours on a store in a temp dir, and Debian's sssd-kcm,
// started on a temp socket with a minimal config, as the baseline in the
// same run. Compare BenchmarkKCMSession with BenchmarkSSSDKCMSession, and
// BenchmarkKCMKlist1000 with BenchmarkSSSDKCMKlist1000 (target: ours at
// most half of sssd-kcm's time).

// session is one kinit, one kvno and one klist.
func session(b *testing.B, e *env) {
	b.Helper()
	e.kinit(nil, "alice")
	e.run("kvno", kdctest.Service)
	e.run("klist")
}

func BenchmarkKCMSession(b *testing.B) {
	e := newEnv(b, kcm.Options{})
	session(b, e) // the first kinit makes the collection
	for b.Loop() {
		session(b, e)
	}
}

func BenchmarkSSSDKCMSession(b *testing.B) {
	e := newSSSDEnv(b)
	session(b, e)
	for b.Loop() {
		session(b, e)
	}
}

// services is how many service tickets the Klist1000 cache holds.
const services = 1000

// fill1000 adds services service principals to the KDC and gets a ticket
// for each into the default cache, with kvno.
func fill1000(b *testing.B, e *env) {
	b.Helper()
	var cmds, names bytes.Buffer
	var args []string
	for i := range services {
		n := fmt.Sprintf("svc%d/bench.test.local", i)
		fmt.Fprintf(&cmds, "addprinc -randkey %s\n", n)
		args = append(args, n)
		names.WriteString(n + " ")
	}
	add := e.kdc.Command("kadmin.local", "-r", kdctest.Realm)
	add.Stdin = &cmds
	if out, err := add.CombinedOutput(); err != nil {
		b.Fatalf("kadmin.local: %v\n%s", err, out)
	}
	e.kinit(nil, "alice")
	start := time.Now()
	e.run("kvno", args...)
	b.Logf("kvno of %d services: %v", services, time.Since(start))
	if n := strings.Count(e.run("klist"), "bench.test.local@"); n != services {
		b.Fatalf("the cache holds %d service tickets, want %d", n, services)
	}
}

func BenchmarkKCMKlist1000(b *testing.B) {
	e := newEnv(b, kcm.Options{})
	fill1000(b, e)
	for b.Loop() {
		e.run("klist")
	}
}

func BenchmarkSSSDKCMKlist1000(b *testing.B) {
	e := newSSSDEnv(b)
	fill1000(b, e)
	for b.Loop() {
		e.run("klist")
	}
}

// newSSSDEnv is env with Debian's sssd-kcm instead of our server, with
// kcmConf's lines added to sssd.conf's [kcm] section. sssd_kcm
// has its config database and its store compiled in (/etc/sssd,
// /var/lib/sss, /var/log/sssd), so it runs in a private mount namespace
// with those bind-mounted from a temp dir; it exits when its parent (this
// process) does, and is killed by its PID when the benchmark ends.
func newSSSDEnv(b testing.TB, kcmConf ...string) *env {
	b.Helper()
	for _, tool := range []string{"/usr/sbin/sssd", "/usr/libexec/sssd/sssd_kcm", "unshare", "mount"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Skipf("sssd-kcm baseline: %s not found (install sssd-kcm): %v", tool, err)
		}
	}
	if os.Geteuid() != 0 {
		b.Skip("sssd-kcm baseline: needs root for its private mount namespace")
	}
	k := kdctest.Start(b)
	dir, err := os.MkdirTemp("", "sssd-kcm-bench-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	for _, d := range []string{"etc/conf.d", "lib/db", "lib/deskprofile", "lib/gpo_cache", "lib/mc", "lib/pipes/private", "lib/pubconf", "lib/secrets", "log"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			b.Fatal(err)
		}
	}
	sock := filepath.Join(dir, "kcm.sock")
	conf := "[sssd]\nservices =\ndomains =\n[kcm]\nsocket_path = " + sock + "\nresponder_idle_timeout = 0\n" + strings.Join(kcmConf, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(dir, "etc", "sssd.conf"), []byte(conf), 0o600); err != nil {
		b.Fatal(err)
	}
	script := fmt.Sprintf("mount --bind %[1]s/etc /etc/sssd && mount --bind %[1]s/lib /var/lib/sss && mount --bind %[1]s/log /var/log/sssd && "+
		"/usr/sbin/sssd --genconf-section=kcm --logger=stderr && exec /usr/libexec/sssd/sssd_kcm --uid 0 --gid 0 --logger=stderr", dir)
	cmd := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c", script)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	b.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	e := &env{t: b, kdc: k, dir: dir, sock: sock, conf: filepath.Join(dir, "krb5.conf")}
	base, err := os.ReadFile(filepath.Join(k.Dir, "krb5.conf"))
	if err != nil {
		b.Fatal(err)
	}
	krb5 := strings.Replace(string(base), "[libdefaults]\n", "[libdefaults]\n  default_ccache_name = KCM:\n  kcm_socket = "+sock+"\n", 1)
	if err := os.WriteFile(e.conf, []byte(krb5), 0o644); err != nil {
		b.Fatal(err)
	}
	// Ready when klist -l prints its table's header.
	for deadline := time.Now().Add(20 * time.Second); ; {
		r := e.try(nil, "", "klist", "-l")
		if strings.Contains(r.out, "Principal name") {
			break
		}
		select {
		case err := <-exited:
			b.Skipf("sssd-kcm baseline: sssd_kcm exited: %v\n%s", err, log.String())
		default:
		}
		if time.Now().After(deadline) {
			b.Fatalf("sssd-kcm does not answer on %s:\n%s%s", sock, r.err, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return e
}
