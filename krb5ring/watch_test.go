//go:build linux

package krb5ring_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/krb5ring"
	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// eventLines runs w.Events into a channel of lines, closed when Events
// returns.
func eventLines(ctx context.Context, w *krb5ring.Watch) <-chan string {
	ch := make(chan string, 64)
	go func() {
		defer close(ch)
		for e, err := range w.Events(ctx) {
			if err != nil {
				ch <- "error: " + err.Error()
				return
			}
			ch <- e.String()
		}
	}()
	return ch
}

// expect reads exactly want from lines, in order; it fails on anything
// else or on a wait of 5 s.
func expect(t *testing.T, step string, lines <-chan string, want ...string) {
	t.Helper()
	for i, w := range want {
		select {
		case got, ok := <-lines:
			if !ok {
				t.Fatalf("%s: the watch ended before %q", step, w)
			}
			if got != w {
				t.Fatalf("%s: event %d is %q, want %q", step, i+1, got, w)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: no event after 5 s, want %q", step, w)
		}
	}
}

const (
	fastAvail = `krb5_ccache_conf_data/fast_avail/krbtgt\/TEST.LOCAL\@TEST.LOCAL@X-CACHECONF:`
	paType    = `krb5_ccache_conf_data/pa_type/krbtgt\/TEST.LOCAL\@TEST.LOCAL@X-CACHECONF:`
	tgt       = "krbtgt/TEST.LOCAL@TEST.LOCAL"
	host      = "host/svc.test.local@TEST.LOCAL"
)

// watchScenario drives a collection through what kinit, kvno, kswitch and
// kdestroy do, with col (acting for the writer), and checks that the
// watcher's lines say each change once, in order. atomic says whether
// col's Caller makes transactions, in which a renewal clears the cache
// keyring and fills it again in one commit; over the daemon it swaps in
// a new keyring.
func watchScenario(t *testing.T, col *krb5ring.Collection, atomic bool, lines <-chan string, unlinkCollection func()) {
	ctx := context.Background()
	_, alice := golden(t, "v4-kinit.cc")
	_, aliceKvno := golden(t, "v4-kvno.cc")
	_, bob := golden(t, "v4-preauth.cc")
	n := col.Name().String()

	k, err := col.Import(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "kinit alice", lines, "created "+n+":w", "stored "+n+":w "+fastAvail, "stored "+n+":w "+tgt)

	if err := k.Store(ctx, &aliceKvno.Credentials[2]); err != nil {
		t.Fatal(err)
	}
	expect(t, "kvno", lines, "stored "+n+":w "+host)
	if err := k.Store(ctx, &aliceKvno.Credentials[2]); err != nil {
		t.Fatal(err)
	}
	expect(t, "kvno again", lines, "updated "+n+":w "+host)

	if err := k.Replace(ctx, alice); err != nil {
		t.Fatal(err)
	}
	if atomic {
		expect(t, "renewal", lines, "cleared "+n+":w", "stored "+n+":w "+fastAvail, "stored "+n+":w "+tgt)
	} else {
		expect(t, "renewal", lines, "replaced "+n+":w", "removed "+n+":w "+host)
	}

	kb, err := col.Import(ctx, bob)
	if err != nil {
		t.Fatal(err)
	}
	b := kb.Name().String()
	expect(t, "kinit bob", lines, "created "+b, "stored "+b+" "+fastAvail, "stored "+b+" "+paType,
		"stored "+b+" "+tgt, "stored "+b+" "+host, "primary "+b)

	if err := kb.RemoveCred(ctx, bob.Credentials[3].Server); err != nil {
		t.Fatal(err)
	}
	expect(t, "remove_cred", lines, "removed "+b+" "+host)

	if err := k.Initialize(ctx, alice.DefaultPrincipal, nil); err != nil {
		t.Fatal(err)
	}
	expect(t, "initialize", lines, "cleared "+n+":w")

	if err := col.Switch(ctx, "w"); err != nil {
		t.Fatal(err)
	}
	expect(t, "kswitch", lines, "primary "+n+":w")

	if err := kb.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	expect(t, "kdestroy", lines, "cleared "+b, "destroyed "+b)

	unlinkCollection()
	expect(t, "collection unlinked", lines, "gone "+n)
	select {
	case l, ok := <-lines:
		if ok {
			t.Errorf("after the collection went: %q", l)
		}
	case <-time.After(5 * time.Second):
		t.Error("the watch did not end with its collection")
	}
}

func TestWatchEmbedded(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	col := e.open(t, "KEYRING:session:w")
	q := watchqueue.New(watchqueue.Options{})
	if err := q.SetSize(watchqueue.MaxNotes); err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	w, err := col.Watch(ctx, keyring.QueueWatcher(e.p, q))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	lines := eventLines(ctx, w)
	watchScenario(t, col, true, lines, func() {
		us, _ := e.p.KeyringID(ctx, keyring.UserSessionKeyring)
		if err := e.p.Unlink(ctx, col.Keyring(), us); err != nil {
			t.Fatal(err)
		}
	})
}

// Over the daemon, the writer and the watcher are two connections.
func TestWatchOverDaemon(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	srv, err := daemon.Listen(filepath.Join(t.TempDir(), "d.sock"), e.store, daemon.Options{})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	defer srv.Close()
	dial := func() *daemon.Client {
		c, err := daemon.Dial(ctx, srv.Path())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	writer, watcher := dial(), dial()
	name, _ := krb5ring.ParseName("KEYRING:session:w")
	col, err := krb5ring.Open(ctx, writer, name, e.opts)
	if err != nil {
		t.Fatal(err)
	}
	wcol, err := krb5ring.Open(ctx, watcher, name, e.opts)
	if err != nil {
		t.Fatal(err)
	}
	w, err := wcol.Watch(ctx, watcher)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	lines := eventLines(ctx, w)
	watchScenario(t, col, false, lines, func() {
		us, _ := writer.KeyringID(ctx, keyring.UserSessionKeyring)
		if err := writer.Unlink(ctx, col.Keyring(), us); err != nil {
			t.Fatal(err)
		}
	})
}

// A watch that is closed ends its Events without an error.
func TestWatchClose(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	col := e.open(t, "KEYRING:session:c")
	q := watchqueue.New(watchqueue.Options{})
	q.SetSize(32)
	defer q.Close()
	w, err := col.Watch(ctx, keyring.QueueWatcher(e.p, q))
	if err != nil {
		t.Fatal(err)
	}
	lines := eventLines(ctx, w)
	w.Close()
	for l := range lines {
		if strings.HasPrefix(l, "error") {
			t.Errorf("closing the watch gave %q", l)
		}
	}
}
