package kcm_test

import (
	"os"
	"strings"
	"testing"

	"github.com/keyctl-go/keyctl-go/kcm"
	"github.com/keyctl-go/keyctl-go/krb5ring"
	"github.com/keyctl-go/keyctl-go/perms"
)

var (
	uid1000 = perms.Cred{UID: 1000, GID: 1000}
	uid1001 = perms.Cred{UID: 1001, GID: 1001}
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root, to run children as other uids")
	}
}

// TestUIDsSeeOnlyTheirOwn: each uid's MIT tools, on the same socket, see
// its own collection and nothing of another's, whatever name they send;
// root included. The uid is the kernel's (SO_PEERCRED): the children
// below are real processes of uids 1000 and 1001.
func TestUIDsSeeOnlyTheirOwn(t *testing.T) {
	needRoot(t)
	e := newEnv(t, kcm.Options{})
	e.kinit(nil, "alice")
	e.kinit(&uid1000, "bob")

	if out := e.runAs(&uid1000, "klist"); !strings.Contains(out, "Ticket cache: KCM:1000\n") || !strings.Contains(out, "bob@TEST.LOCAL") || strings.Contains(out, "alice") {
		t.Fatalf("klist as uid 1000:\n%s", out)
	}
	if l := listed(e.runAs(&uid1000, "klist", "-l")); len(l) != 1 || l[0] != "bob@TEST.LOCAL KCM:1000" {
		t.Fatalf("klist -l as uid 1000: %q", l)
	}
	if l := listed(e.run("klist", "-l")); len(l) != 1 || l[0] != "alice@TEST.LOCAL KCM:0" {
		t.Fatalf("klist -l as root: %q", l)
	}
	if r := e.try(&uid1001, "", "klist", "-l"); r.code == 0 || len(listed(r.out)) != 0 {
		t.Fatalf("klist -l as uid 1001, who has no cache: exit %d\n%s", r.code, r.out)
	}

	// Naming the other's caches: refused, with nothing of theirs shown.
	for _, c := range []struct {
		who  *perms.Cred
		args []string
	}{
		{&uid1000, []string{"klist", "-c", "KCM:0"}},
		{&uid1001, []string{"klist", "-c", "KCM:1000"}},
		{nil, []string{"klist", "-c", "KCM:1000"}}, // root too
		{&uid1000, []string{"kvno", "-c", "KCM:0", "host/svc.test.local"}},
		{&uid1000, []string{"kdestroy", "-c", "KCM:0"}},
		{&uid1001, []string{"kswitch", "-c", "KCM:1000"}},
	} {
		r := e.try(c.who, "", c.args[0], c.args[1:]...)
		if r.code == 0 || strings.Contains(r.out+r.err, "alice") || strings.Contains(r.out+r.err, "bob") {
			t.Errorf("%v as %v: exit %d\n%s%s", c.args, c.who, r.code, r.out, r.err)
		}
	}
	// Uid 1000 destroying all it has leaves root's alone.
	e.runAs(&uid1000, "kdestroy", "-A")
	if out := e.run("klist"); !strings.Contains(out, "alice@TEST.LOCAL") {
		t.Fatalf("root's cache after uid 1000's kdestroy -A:\n%s", out)
	}
	if _, err := e.collection(0).Cache("0").Principal(ctx); err != nil {
		t.Fatalf("root's cache in the store: %v", err)
	}
	if _, err := e.collection(1000).Cache("1000").Principal(ctx); err != krb5ring.ErrNotFound && !strings.Contains(err.Error(), "no credentials cache") {
		t.Fatalf("uid 1000's cache after its kdestroy -A: %v", err)
	}
}
