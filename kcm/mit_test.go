//go:build linux

package kcm_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keyctl-go/keyctl-go/ccache"
	"github.com/keyctl-go/keyctl-go/kcm"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/krb5ring"
	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// TestMITSession: kinit, klist, kvno through the KCM server, and the
// cache is in the store, in uid 0's KEYRING collection, where keyctl-go
// krb5 list and export find it.
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
	f, err := e.collection(0).Cache("0").Export(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var servers []string
	for _, c := range f.Credentials {
		servers = append(servers, c.Server.String())
	}
	want := []string{`krb5_ccache_conf_data/fast_avail/krbtgt\/TEST.LOCAL\@TEST.LOCAL@X-CACHECONF:`, "krbtgt/TEST.LOCAL@TEST.LOCAL", "host/svc.test.local@TEST.LOCAL"}
	if f.DefaultPrincipal.String() != "alice@TEST.LOCAL" || strings.Join(servers, " ") != strings.Join(want, " ") {
		t.Fatalf("the store's cache: %v with %q, want alice@TEST.LOCAL with %q", f.DefaultPrincipal, servers, want)
	}
}

// cacheName matches klist -l's lines: principal, then the cache.
var cacheLine = regexp.MustCompile(`(?m)^(\S+@TEST\.LOCAL)\s+(KCM:\S+)`)

// listed is klist -l's caches as "principal cache", in its order.
func listed(out string) []string {
	var l []string
	for _, m := range cacheLine.FindAllStringSubmatch(out, -1) {
		l = append(l, m[1]+" "+m[2])
	}
	return l
}

// TestMITCollection: a second principal gets a cache of its own and
// becomes primary; klist -l lists the primary first, klist -A shows both;
// kswitch switches; kinit -R renews in place; kdestroy destroys the
// primary and kdestroy -A the rest.
func TestMITCollection(t *testing.T) {
	e := newEnv(t, kcm.Options{})
	e.kinit(nil, "alice", "-r", "2d")
	e.kinit(nil, "bob")
	l := listed(e.run("klist", "-l"))
	if len(l) != 2 || !strings.HasPrefix(l[0], "bob@TEST.LOCAL KCM:0:") || l[1] != "alice@TEST.LOCAL KCM:0" {
		t.Fatalf("klist -l after kinit alice, kinit bob: %q", l)
	}
	bobCache := strings.TrimPrefix(strings.Fields(l[0])[1], "KCM:")
	all := e.run("klist", "-A")
	if strings.Count(all, "Ticket cache:") != 2 || !strings.Contains(all, "Default principal: alice@") || !strings.Contains(all, "Default principal: bob@") {
		t.Fatalf("klist -A:\n%s", all)
	}

	e.run("kswitch", "-p", "alice")
	if out := e.run("klist"); !strings.Contains(out, "Default principal: alice@TEST.LOCAL") {
		t.Fatalf("klist after kswitch -p alice:\n%s", out)
	}
	if l := listed(e.run("klist", "-l")); len(l) != 2 || l[0] != "alice@TEST.LOCAL KCM:0" {
		t.Fatalf("klist -l after kswitch: %q", l)
	}

	// kinit -R: a new TGT, the same cache, still primary.
	before := e.tgtStart(t, "0")
	time.Sleep(1100 * time.Millisecond) // a renewed ticket's times differ by at least a second
	e.run("kinit", "-R")
	if after := e.tgtStart(t, "0"); after <= before {
		t.Fatalf("kinit -R did not renew: authtime %d then %d", before, after)
	}
	if l := listed(e.run("klist", "-l")); len(l) != 2 || l[0] != "alice@TEST.LOCAL KCM:0" {
		t.Fatalf("klist -l after kinit -R: %q", l)
	}

	r := e.try(nil, "", "kdestroy")
	if r.code != 0 {
		t.Fatalf("kdestroy: %d %s", r.code, r.err)
	}
	if l := listed(e.run("klist", "-l")); len(l) != 1 || l[0] != "bob@TEST.LOCAL KCM:"+bobCache {
		t.Fatalf("klist -l after kdestroy: %q", l)
	}
	e.run("kdestroy", "-A")
	if r := e.try(nil, "", "klist"); r.code == 0 || !strings.Contains(r.err, "not found") {
		t.Fatalf("klist after kdestroy -A: exit %d\n%s%s", r.code, r.out, r.err)
	}
	caches, err := e.collection(0).Caches(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range caches {
		if _, err := k.Principal(ctx); !errors.Is(err, krb5ring.ErrNotFound) {
			t.Errorf("cache %s is still in the store after kdestroy -A (%v)", k.Name(), err)
		}
	}
}

// tgtStart is the authtime of the TGT in uid 0's cache sub, from the store.
func (e *env) tgtStart(t *testing.T, sub string) ccache.Timestamp {
	t.Helper()
	f, err := e.collection(0).Cache(sub).Export(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range f.Credentials {
		if len(c.Server.Components) == 2 && c.Server.Components[0] == "krbtgt" {
			return c.StartTime
		}
	}
	t.Fatalf("no TGT in %s", sub)
	return 0
}

// TestPersistsAcrossRestart: after the server and the store are closed and
// opened again, klist -A prints the same bytes, and kvno gets a ticket
// with the TGT kept.
func TestPersistsAcrossRestart(t *testing.T) {
	e := newEnv(t, kcm.Options{})
	e.kinit(nil, "alice")
	e.kinit(nil, "bob")
	e.run("kvno", "host/svc.test.local")
	before := e.run("klist", "-A")
	e.restart()
	if after := e.run("klist", "-A"); after != before {
		t.Fatalf("klist -A before the restart:\n%s\nafter:\n%s", before, after)
	}
	e.run("kswitch", "-p", "alice")
	e.run("kvno", "host/svc.test.local")
	if out := e.run("klist"); !strings.Contains(out, "host/svc.test.local@TEST.LOCAL") {
		t.Fatalf("kvno after the restart did not store a ticket:\n%s", out)
	}
}

// TestWatchHearsKinitRenew: a krb5ring watch on uid 0's collection, the
// one keyctl-go krb5 watch runs, hears an unmodified kinit -R that went
// through KCM, and kvno's new ticket.
func TestWatchHearsKinitRenew(t *testing.T) {
	e := newEnv(t, kcm.Options{})
	e.kinit(nil, "alice", "-r", "2d")
	p := e.store.Process(kcmRoot)
	defer p.Release(ctx)
	name, _ := krb5ring.ParseName("KEYRING:persistent:0")
	col, err := krb5ring.Open(ctx, p, name, krb5ring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	q := watchqueue.New(watchqueue.Options{})
	if err := q.SetSize(watchqueue.MaxNotes); err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	w, err := col.Watch(ctx, keyring.QueueWatcher(p, q))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		for ev, err := range w.Events(wctx) {
			if err != nil {
				return
			}
			lines <- ev.String()
		}
	}()
	time.Sleep(1100 * time.Millisecond)
	e.run("kinit", "-R")
	n := "KEYRING:persistent:0:0"
	// Cleared and filled again in one commit, heard together: kinit -R
	// keeps the renewed TGT alone (MIT drops the config entries).
	expectLines(t, lines, "cleared "+n, "stored "+n+" krbtgt/TEST.LOCAL@TEST.LOCAL")
	e.run("kvno", "host/svc.test.local")
	expectLines(t, lines, "stored "+n+" host/svc.test.local@TEST.LOCAL")
	cancel()
	w.Close()
	for range lines {
	}
}

func expectLines(t *testing.T, lines <-chan string, want ...string) {
	t.Helper()
	for i, w := range want {
		select {
		case got := <-lines:
			if got != w {
				t.Fatalf("event %d is %q, want %q", i+1, got, w)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no event after 5 s, want %q", w)
		}
	}
}

// TestImportShowsInKlist: a FILE cache imported into the collection, as
// keyctl-go krb5 import does, is what klist shows next; and a cache kinit
// made through KCM exports to a FILE cache that klist reads.
func TestImportShowsInKlist(t *testing.T) {
	e := newEnv(t, kcm.Options{})
	file := filepath.Join(t.TempDir(), "bob.cc")
	e.kdc.Kinit(t, file, "bob")
	f, err := ccache.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	k, err := e.collection(0).Import(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	out := e.run("klist")
	if !strings.Contains(out, "Ticket cache: KCM:"+k.Name().Subsidiary+"\n") || !strings.Contains(out, "Default principal: bob@TEST.LOCAL") {
		t.Fatalf("klist after an import into %s:\n%s", k.Name(), out)
	}

	e.kinit(nil, "alice")
	got, err := e.collection(0).Match(ctx, ccache.Principal{Realm: "TEST.LOCAL", Components: []string{"alice"}})
	if err != nil {
		t.Fatal(err)
	}
	exported, err := got.Export(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out2 := filepath.Join(t.TempDir(), "alice.cc")
	if err := ccache.WriteFile(out2, exported); err != nil {
		t.Fatal(err)
	}
	r := e.try(nil, "", "klist", "-c", "FILE:"+out2)
	if r.code != 0 || !strings.Contains(r.out, "Default principal: alice@TEST.LOCAL") || !strings.Contains(r.out, "krbtgt/TEST.LOCAL@TEST.LOCAL") {
		t.Fatalf("klist of the exported cache: %d\n%s%s", r.code, r.out, r.err)
	}
	_ = os.Remove(out2)
}
