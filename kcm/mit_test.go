package kcm_test

import (
	"strings"
	"testing"

	"github.com/keyctl-go/keyctl-go/kcm"
)

// TestMITSession: kinit, klist, kvno through the KCM server, and the
// cache is in the store, in uid 0's KEYRING collection.
func TestMITSession(t *testing.T) {
	e := newEnv(t, kcm.Options{})
	e.kinit(nil, "alice")
	out := e.run("klist")
	if !strings.Contains(out, "Ticket cache: KCM:0\n") || !strings.Contains(out, "Default principal: alice@TEST.LOCAL") {
		t.Fatalf("klist after kinit:\n%s", out)
	}
	e.run("kvno", "host/svc.test.local")
	out = e.run("klist")
	if !strings.Contains(out, "host/svc.test.local@TEST.LOCAL") {
		t.Fatalf("klist after kvno:\n%s", out)
	}
	col := e.collection(0)
	f, err := col.Cache("0").Export(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Credentials) < 2 || f.DefaultPrincipal.String() != "alice@TEST.LOCAL" {
		t.Fatalf("the store holds %v with %d credentials", f.DefaultPrincipal, len(f.Credentials))
	}
	t.Logf("klist:\n%s", out)
}
