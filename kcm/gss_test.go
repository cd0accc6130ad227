//go:build linux

package kcm_test

import (
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyctl-go/keyctl-go/internal/kdctest"
	"github.com/keyctl-go/keyctl-go/kcm"
)

// TestGSSAPIExchange: MIT's sample GSSAPI client authenticates to the
// sample server with alice's TGT from the KCM cache; the service ticket
// it gets lands in the same cache.
func TestGSSAPIExchange(t *testing.T) {
	for _, tool := range []string{"gss-client", "gss-server", "kadmin.local"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found (install krb5-gss-samples): %v", tool, err)
		}
	}
	e := newEnv(t, kcm.Options{})
	keytab := filepath.Join(t.TempDir(), "svc.keytab")
	if out, err := e.kdc.Command("kadmin.local", "-r", kdctest.Realm, "-q", "ktadd -k "+keytab+" "+kdctest.Service).CombinedOutput(); err != nil {
		t.Fatalf("ktadd: %v\n%s", err, out)
	}
	e.kinit(nil, "alice")

	port := freeTCPPort(t)
	srv := e.command(nil, "gss-server", "-port", fmt.Sprint(port), "-once", "-keytab", keytab, "host@svc.test.local")
	srv.Env = append(srv.Env, "KRB5RCACHETYPE=none")
	var srvOut bytes.Buffer
	srv.Stdout, srv.Stderr = &srvOut, &srvOut
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Wait() }()
	defer func() {
		srv.Process.Kill()
		<-done
	}()
	// Not probed with a connection of our own: -once serves one.
	var r result
	for deadline := time.Now().Add(10 * time.Second); ; {
		r = e.try(nil, "", "gss-client", "-port", fmt.Sprint(port), "127.0.0.1", "host@svc.test.local", "hello from KCM")
		if !strings.Contains(r.out+r.err, "Connection refused") || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r.code != 0 || !strings.Contains(r.out, "Signature verified") {
		t.Fatalf("gss-client: exit %d\n%s%s\nserver:\n%s", r.code, r.out, r.err, srvOut.String())
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("gss-server -once did not finish")
	}
	done <- nil
	if !strings.Contains(srvOut.String(), "alice@TEST.LOCAL") {
		t.Fatalf("the server did not see alice:\n%s", srvOut.String())
	}
	if out := e.run("klist"); !strings.Contains(out, "host/svc.test.local@TEST.LOCAL") {
		t.Fatalf("the service ticket is not in the KCM cache:\n%s", out)
	}
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
