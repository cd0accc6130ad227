//go:build linux

// Package kdctest starts a throwaway MIT Kerberos KDC for tests: loopback
// only, on a free port, with everything (database, stash, configuration,
// log) in the test's temporary directory, and stopped by its own PID when
// the test ends. Tests that need it are skipped, with a message saying
// what to install, where MIT's tools are missing.
//
// The realm has three principals: alice (password Password["alice"]),
// bob (requires pre-authentication) and host/svc.test.local (random key),
// and its krbtgt may be renewed for 7 days. Run the client tools with
// KDC.Command, which points them at the realm's krb5.conf.
package kdctest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Realm is the test realm.
const Realm = "TEST.LOCAL"

// Service is a service principal kvno can get a ticket for.
const Service = "host/svc.test.local"

// Password holds the passwords of the user principals.
var Password = map[string]string{
	"alice": "secret123",
	"bob":   "secret456", // +requires_preauth: its caches get a pa_type config entry
}

// tools are the programs a KDC needs; a test without them is skipped.
var tools = []string{"krb5kdc", "kdb5_util", "kadmin.local", "kinit", "kvno", "klist"}

// startTimeout bounds the wait for krb5kdc to listen; stopTimeout the wait
// for it to exit after SIGTERM, which takes it about 2 s.
const (
	startTimeout = 10 * time.Second
	stopTimeout  = 10 * time.Second
)

// KDC is a running krb5kdc.
type KDC struct {
	Dir  string // the temp dir everything lives in
	Port int    // on 127.0.0.1, TCP and UDP
	cmd  *exec.Cmd
	env  []string
}

// Start makes the realm and starts its KDC, or skips t if MIT's tools are
// missing. The KDC is stopped when t ends.
func Start(t testing.TB) *KDC {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("kdctest: %s not found (install krb5-kdc, krb5-admin-server and krb5-user): %v", tool, err)
		}
	}
	k := &KDC{Dir: t.TempDir()}
	var err error
	for range 3 { // a free port can be taken by someone else before krb5kdc binds it
		if err = k.start(t); err == nil {
			return k
		}
	}
	t.Fatalf("kdctest: %v", err)
	return nil
}

func (k *KDC) start(t testing.TB) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	k.Port = port
	if err := k.writeConfig(); err != nil {
		return err
	}
	k.env = k.environ()
	if out, err := k.Command("kdb5_util", "create", "-s", "-W", "-r", Realm, "-P", "masterpw").CombinedOutput(); err != nil {
		return fmt.Errorf("kdb5_util create: %v\n%s", err, out)
	}
	for _, q := range []string{
		"addprinc -pw " + Password["alice"] + " alice",
		"addprinc -pw " + Password["bob"] + " +requires_preauth bob",
		"addprinc -randkey " + Service,
		"modprinc -maxrenewlife 7d krbtgt/" + Realm + "@" + Realm,
	} {
		if out, err := k.Command("kadmin.local", "-r", Realm, "-q", q).CombinedOutput(); err != nil {
			return fmt.Errorf("kadmin.local %q: %v\n%s", q, err, out)
		}
	}
	// -n: no fork, so the process started is the KDC and its PID is ours.
	cmd := k.Command("krb5kdc", "-n", "-r", Realm)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("krb5kdc: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	k.cmd = cmd
	deadline := time.Now().Add(startTimeout)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 100*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		select {
		case err := <-exited:
			log, _ := os.ReadFile(filepath.Join(k.Dir, "kdc.log"))
			return fmt.Errorf("krb5kdc exited at once: %v\n%s%s", err, stderr.Bytes(), log)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-exited
			return fmt.Errorf("krb5kdc does not listen on 127.0.0.1:%d after %v", port, startTimeout)
		}
	}
	t.Cleanup(func() {
		// By its PID, never by name: other KDCs may be running.
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(stopTimeout):
			cmd.Process.Kill()
			<-exited
		}
	})
	return nil
}

// freePort returns a port on 127.0.0.1 that is free for TCP and UDP now.
func freePort() (int, error) {
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		u.Close()
		return port, nil
	}
	return 0, errors.New("no free port on 127.0.0.1 for both TCP and UDP")
}

func (k *KDC) writeConfig() error {
	addr := fmt.Sprintf("127.0.0.1:%d", k.Port)
	// No "noaddresses = false": kinit would then put the host's addresses
	// in every TGT, and kvno over loopback fails with "Incorrect net
	// address".
	krb5 := fmt.Sprintf(`[libdefaults]
  default_realm = %[1]s
  dns_lookup_kdc = false
  dns_lookup_realm = false
  rdns = false
[realms]
  %[1]s = {
    kdc = %[2]s
  }
`, Realm, addr)
	kdc := fmt.Sprintf(`[kdcdefaults]
  kdc_listen = %[2]s
  kdc_tcp_listen = %[2]s
[realms]
  %[1]s = {
    database_name = %[3]s/principal
    key_stash_file = %[3]s/stash
    acl_file = %[3]s/kadm5.acl
    kdc_listen = %[2]s
    kdc_tcp_listen = %[2]s
    max_life = 10h
    max_renewable_life = 7d
  }
[logging]
  kdc = FILE:%[3]s/kdc.log
  default = FILE:%[3]s/kdc.log
`, Realm, addr, k.Dir)
	for name, body := range map[string]string{"krb5.conf": krb5, "kdc.conf": kdc, "kadm5.acl": ""} {
		if err := os.WriteFile(filepath.Join(k.Dir, name), []byte(body), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// environ is the process environment with the realm's configuration and
// no inherited Kerberos settings; times print in UTC, messages in C.
func (k *KDC) environ() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "KRB5") || strings.HasPrefix(kv, "TZ=") || strings.HasPrefix(kv, "LC_") || strings.HasPrefix(kv, "LANG") {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"KRB5_CONFIG="+filepath.Join(k.Dir, "krb5.conf"),
		"KRB5_KDC_PROFILE="+filepath.Join(k.Dir, "kdc.conf"),
		"KRB5CCNAME=FILE:"+filepath.Join(k.Dir, "default.cc"),
		"TZ=UTC", "LC_ALL=C")
}

// Env returns the environment Command gives the tools.
func (k *KDC) Env() []string { return append([]string(nil), k.env...) }

// Command returns the MIT tool name with args, in the realm's environment.
func (k *KDC) Command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Env = k.Env()
	return cmd
}

// Run runs a tool and returns its standard output; it fails t if the tool
// fails.
func (k *KDC) Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	cmd := k.Command(name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr.Bytes())
	}
	return string(out)
}

// Kinit gets a TGT for user (alice or bob) into the FILE cache at path,
// with kinit's extra args (e.g. "-f", "-r", "2d").
func (k *KDC) Kinit(t testing.TB, path, user string, args ...string) {
	t.Helper()
	cmd := k.Command("kinit", append(append([]string{"-c", "FILE:" + path}, args...), user)...)
	cmd.Stdin = strings.NewReader(Password[user] + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kinit %s: %v\n%s", user, err, out)
	}
}
