//go:build linux

package daemon_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/perms"
	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// changeText is a change as one line, revision included.
func changeText(c keyring.Change) string {
	return fmt.Sprintf("@%d %d %v %d destroyed=%v %s %q %s %q", c.Revision, c.Key, c.Subtype, c.Aux, c.Destroyed, c.KeyType, c.KeyDescription, c.AuxType, c.AuxDescription)
}

func changeTexts(cs []keyring.Change) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = changeText(c)
	}
	return out
}

// A history too long for one reply comes in pages, and the client puts
// them together into what the store itself says, revisions and all: also
// across a page that ends inside one commit's changes (a clear that
// destroys many keys at once).
func TestChangesInPages(t *testing.T) {
	daemon.SetChangesPageSize(t, 4<<10)
	e := newEnv(t, daemon.Options{})
	c := e.dial(t)
	// A client that pages wrong may page for ever.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store, err := c.StoreID(ctx)
	if err != nil || store != e.store.ID() {
		t.Fatalf("StoreID = %v, %v; the store is %v", store, err, e.store.ID())
	}
	_, start, err := c.Changes(ctx, store, ^uint64(0))
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("d", 1000)
	ring := must(t)(c.Add(ctx, "keyring", "ring", nil, keyring.UserKeyring))
	for i := range 12 {
		must(t)(c.Add(ctx, "user", fmt.Sprint(i, long), []byte("v"), ring))
	}
	if err := c.Clear(ctx, ring); err != nil {
		t.Fatal(err)
	}
	got, cur, err := c.Changes(ctx, store, start)
	if err != nil {
		t.Fatal(err)
	}
	want, wantCur, err := e.store.Process(perms.Cred{UID: 0, GID: 0}).Changes(ctx, store, start)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(changeTexts(got), changeTexts(want)) || cur != wantCur {
		t.Errorf("over the daemon, up to %d:\n%s\nthe store's, up to %d:\n%s", cur, strings.Join(changeTexts(got), "\n"), wantCur, strings.Join(changeTexts(want), "\n"))
	}
	// The clear's commit alone is more than a page: 12 keys destroyed,
	// each named with over 1000 bytes.
	last := want[len(want)-1].Revision
	n := 0
	for _, c := range want {
		if c.Revision == last {
			n++
		}
	}
	if n < 12 {
		t.Fatalf("the last commit made %d changes; the test needs one over a page", n)
	}
}

// A revision is the history's that counted it. A client that kept one,
// with its StoreID, from the daemon of a store since deleted and made anew
// at the same path, or restored from a backup taken before the revision,
// is refused (ESTALE: ErrOtherStore naming both stores, ErrCompacted)
// by the daemon started again at the same socket, though the store's
// history there reaches past that revision: never answered with changes
// that did not follow what the client saw.
func TestChangesOfAnotherStoreAtTheSamePath(t *testing.T) {
	for _, restore := range []bool{false, true} {
		t.Run(map[bool]string{false: "made anew", true: "restored from a backup"}[restore], func(t *testing.T) {
			testChangesAtTheSamePath(t, restore)
		})
	}
}

func testChangesAtTheSamePath(t *testing.T, restore bool) {
	path := filepath.Join(t.TempDir(), "keys.db")
	sockDir, err := os.MkdirTemp("", "keyctl-go-daemon-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	socket := filepath.Join(sockDir, "d.sock")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// serve serves the store at path, and dials it.
	serve := func() (*keyring.Store, *daemon.Client, func()) {
		store, err := keyring.Open(path, keyring.Options{})
		if err != nil {
			t.Fatal(err)
		}
		srv, err := daemon.Listen(socket, store, daemon.Options{})
		if err != nil {
			t.Fatal(err)
		}
		served := make(chan error, 1)
		go func() { served <- srv.Serve() }()
		c, err := daemon.Dial(ctx, socket)
		if err != nil {
			t.Fatal(err)
		}
		return store, c, func() {
			c.Close()
			srv.Close()
			if err := <-served; err != nil {
				t.Errorf("Serve: %v", err)
			}
			store.Close()
		}
	}
	files := func() []string {
		f, _ := filepath.Glob(path + "*")
		return f
	}

	_, c, stop := serve()
	must(t)(c.Add(ctx, "user", "backed up", []byte("1"), keyring.UserKeyring))
	stop()
	backup := map[string][]byte{}
	for _, f := range files() {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		backup[f] = b
	}
	_, c, stop = serve()
	must(t)(c.Add(ctx, "user", "after the backup", []byte("2"), keyring.UserKeyring))
	seen, err := c.StoreID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, rev, err := c.Changes(ctx, seen, ^uint64(0))
	if err != nil {
		t.Fatal(err)
	}
	stop()

	for _, f := range files() {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	if restore {
		for f, b := range backup {
			if err := os.WriteFile(f, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	store, c, stop := serve()
	defer stop()
	now, err := c.StoreID(ctx)
	if err != nil || now != store.ID() {
		t.Fatalf("StoreID = %v, %v; the store is %v", now, err, store.ID())
	}
	if (now.UUID == seen.UUID) != restore || now.History == seen.History {
		t.Fatalf("the store is %v, and was %v", now, seen)
	}
	for i := 0; ; i++ {
		must(t)(c.Add(ctx, "user", fmt.Sprint("new", i), []byte("2"), keyring.UserKeyring))
		if cs, _, err := c.Changes(ctx, now, rev); err == nil && len(cs) > 0 {
			break // the history reaches past rev
		}
		if i == 10 {
			t.Fatalf("the history does not reach past %d", rev)
		}
	}
	cs, cur, err := c.Changes(ctx, seen, rev)
	var derr *daemon.Error
	if !errors.Is(err, unix.ESTALE) || !errors.As(err, &derr) || cs != nil || cur != 0 {
		t.Fatalf("changes after %d of %v: %q, %d, %v; want the daemon's ESTALE", rev, seen, changeTexts(cs), cur, err)
	}
	if !strings.Contains(err.Error(), seen.UUID.String()) && !strings.Contains(err.Error(), seen.History.String()) {
		t.Errorf("%v: names neither what was asked for nor what is there", err)
	}
}

// A connection whose queue keeps revisions hears each change with the
// revision the store's history gives it; asked after the first watch, it
// is too late (EBUSY), and a connection that never asked hears the
// kernel's records, without them.
func TestKeepRevisions(t *testing.T) {
	e := newEnv(t, daemon.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kept, plain, adder := e.dial(t), e.dial(t), e.dial(t)
	if err := kept.KeepRevisions(ctx); err != nil {
		t.Fatal(err)
	}
	ring := must(t)(adder.Add(ctx, "keyring", "ring", nil, keyring.UserKeyring))
	for _, c := range []*daemon.Client{kept, plain} {
		if err := c.Watch(ctx, ring, 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := kept.KeepRevisions(ctx); err != nil {
		t.Errorf("KeepRevisions again, after the watch: %v; it keeps them already", err)
	}
	if err := plain.KeepRevisions(ctx); !errors.Is(err, unix.EBUSY) {
		t.Errorf("KeepRevisions after a watch without: %v, want EBUSY", err)
	}
	store, _ := kept.StoreID(ctx)
	_, start, _ := kept.Changes(ctx, store, ^uint64(0))
	key := must(t)(adder.Add(ctx, "user", "k", []byte("v"), ring))
	cs, _, err := kept.Changes(ctx, store, start)
	if err != nil {
		t.Fatal(err)
	}
	var want uint64
	for _, c := range cs {
		if c.Key == ring && c.Subtype == watchqueue.KeyLinked && c.Aux == key {
			want = c.Revision
		}
	}
	if want == 0 {
		t.Fatalf("no link of %v in %q", key, changeTexts(cs))
	}
	for c, wantRev := range map[*daemon.Client]uint64{kept: want, plain: 0} {
		for r, err := range c.Records(ctx) {
			if err != nil {
				t.Fatal(err)
			}
			if n, ok := r.(watchqueue.KeyNotification); !ok || n.Subtype != watchqueue.KeyLinked || n.Aux != uint32(key) || n.Revision != wantRev {
				t.Errorf("record %#v; want the link of %v at revision %d", r, key, wantRev)
			}
			break
		}
	}
}
