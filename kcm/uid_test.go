//go:build linux

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

	// Naming the other's caches: refused with what sssd-kcm answers (the
	// messages are MIT's for those codes, checked against sssd-kcm 2.8.2),
	// nothing of theirs shown, nothing of theirs changed.
	for _, c := range []struct {
		who  *perms.Cred
		args []string
		code int
		err  string
	}{
		{&uid1000, []string{"klist", "-c", "KCM:0"}, 1, "klist: Credentials cache 'KCM:0' not found\n"},
		{&uid1001, []string{"klist", "-c", "KCM:1000"}, 1, "klist: Credentials cache 'KCM:1000' not found\n"},
		{nil, []string{"klist", "-c", "KCM:1000"}, 1, "klist: Credentials cache 'KCM:1000' not found\n"}, // root too
		{&uid1000, []string{"kvno", "-c", "KCM:0", "host/svc.test.local"}, 1, "kvno: Credentials cache 'KCM:0' not found while getting client principal name\n"},
		{&uid1000, []string{"kdestroy", "-c", "KCM:0"}, 0, "kdestroy: No credentials cache found while destroying cache\n"},
		{&uid1001, []string{"kswitch", "-c", "KCM:1000"}, 1, "kswitch: Internal credentials cache error while switching to credential cache\n"},
		{&uid1000, []string{"kinit", "-c", "KCM:0", "bob"}, 1, "kinit: Failed to store credentials: Internal credentials cache error while getting initial credentials\n"},
	} {
		stdin := ""
		if c.args[0] == "kinit" {
			stdin = "secret456\n"
		}
		r := e.try(c.who, stdin, c.args[0], c.args[1:]...)
		got, out := strings.TrimPrefix(r.err, "Password for bob@TEST.LOCAL: "), strings.TrimPrefix(r.out, "Password for bob@TEST.LOCAL: ")
		if r.code != c.code || got != c.err || strings.Contains(out, "alice") || strings.Contains(out, "bob") {
			t.Errorf("%v as %v: exit %d, %q\n%s; want exit %d, %q", c.args, c.who, r.code, got, r.out, c.code, c.err)
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
