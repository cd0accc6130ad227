//go:build linux

package secrets_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/secrets"
)

// events reads n events from w, or fails after a while.
func events(t *testing.T, w *secrets.Watch, n int) []secrets.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var got []secrets.Event
	if n == 0 {
		return nil
	}
	for e, err := range w.Events(ctx) {
		if err != nil {
			t.Fatalf("after %v: %v", got, err)
		}
		got = append(got, e)
		if len(got) == n {
			break
		}
	}
	return got
}

// lines is events as "kind service/account" without revisions, for
// comparing.
func lines(evs []secrets.Event) []string {
	var out []string
	for _, e := range evs {
		e.Revision = 0
		out = append(out, e.String())
	}
	return out
}

// A Watch hears every change to the secrets of a service, whoever makes
// it: creations, updates of the secret and of its label, deletions; with
// the store's revisions, in commit order, embedded and over the daemon.
func TestWatchService(t *testing.T) {
	modes(t, func(t *testing.T, store *keyring.Store, c keyring.Caller) {
		ctx := context.Background()
		st := secrets.New(c, secrets.Options{})
		if err := st.Set(ctx, "svc", "before", []byte("x")); err != nil {
			t.Fatal(err)
		}
		w, err := st.Watch(ctx, "svc")
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()

		// Another process of the user makes the changes, one at a time as
		// the Watch reads them: a key made and gone before the Watch looks
		// has no name left to report.
		other := secrets.New(another(t, store, c), secrets.Options{})
		var got []secrets.Event
		for _, step := range []struct {
			do   func() error
			want []string
		}{
			{func() error { return other.Set(ctx, "svc", "alice", []byte("1")) }, []string{"created svc/alice"}},
			{func() error { return other.Set(ctx, "svc", "alice", []byte("2")) }, []string{"updated svc/alice"}},
			{func() error {
				return other.Put(ctx, secrets.Item{Service: "svc", Account: "alice", Label: "relabelled", Secret: []byte("2")})
			}, []string{"updated svc/alice"}},
			{func() error { return other.Set(ctx, "elsewhere", "alice", []byte("not heard")) }, nil},
			{func() error { return other.Delete(ctx, "svc", "alice") }, []string{"deleted svc/alice"}},
			{func() error { return other.Set(ctx, "svc", "before", []byte("y")) }, []string{"updated svc/before"}},
		} {
			if err := step.do(); err != nil {
				t.Fatal(err)
			}
			evs := events(t, w, len(step.want))
			if !slices.Equal(lines(evs), step.want) {
				t.Errorf("events %q, want %q", lines(evs), step.want)
			}
			got = append(got, evs...)
		}
		for i := 1; i < len(got); i++ {
			if got[i].Revision <= got[i-1].Revision || got[0].Revision == 0 {
				t.Errorf("revisions not increasing: %v", got)
			}
		}
		if w.Store() != store.ID() {
			t.Errorf("the Watch's revisions are store %v's; the store is %v", w.Store(), store.ID())
		}
	})
}

// Deleting the service reports its secrets deleted, then the service, and
// ends the Watch.
func TestWatchServiceDeleted(t *testing.T) {
	modes(t, func(t *testing.T, store *keyring.Store, c keyring.Caller) {
		ctx := context.Background()
		st := secrets.New(c, secrets.Options{})
		st.Set(ctx, "svc", "a", []byte("1"))
		st.Set(ctx, "svc", "b", []byte("2"))
		w, err := st.Watch(ctx, "svc")
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		if err := secrets.New(another(t, store, c), secrets.Options{}).DeleteService(ctx, "svc"); err != nil {
			t.Fatal(err)
		}
		got := lines(events(t, w, 3))
		sort.Strings(got[:2])
		if want := []string{"deleted svc/a", "deleted svc/b", "service-deleted svc"}; !slices.Equal(got, want) {
			t.Errorf("events %q, want %q", got, want)
		}
		for e, err := range w.Events(ctx) {
			t.Errorf("after the service went: %v, %v", e, err)
		}
	})
}

// AllServices hears services come and go, and the secrets in each.
func TestWatchAllServices(t *testing.T) {
	modes(t, func(t *testing.T, store *keyring.Store, c keyring.Caller) {
		ctx := context.Background()
		st := secrets.New(c, secrets.Options{})
		w, err := st.Watch(ctx, secrets.AllServices)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		other := secrets.New(another(t, store, c), secrets.Options{})
		for _, step := range []struct {
			do   func() error
			want []string
		}{
			{func() error { return other.Set(ctx, "one", "a", []byte("1")) }, []string{"service-created one", "created one/a"}},
			{func() error { return other.Set(ctx, "one", "a", []byte("2")) }, []string{"updated one/a"}},
			{func() error { return other.Set(ctx, "two", "b", []byte("1")) }, []string{"service-created two", "created two/b"}},
			{func() error { return other.DeleteService(ctx, "one") }, []string{"deleted one/a", "service-deleted one"}},
		} {
			if err := step.do(); err != nil {
				t.Fatal(err)
			}
			if got := lines(events(t, w, len(step.want))); !slices.Equal(got, step.want) {
				t.Errorf("events %q, want %q", got, step.want)
			}
		}
	})
}

// A secret whose expiry passes is reported expired when the store
// collects it; one revoked or invalidated is deleted.
func TestWatchExpiredAndRevoked(t *testing.T) {
	ctx := context.Background()
	store := openStore(t, keyring.Options{GCDelay: time.Millisecond})
	p := process(t, store, alice)
	st := secrets.New(p, secrets.Options{})
	for _, a := range []string{"revoked", "invalidated"} {
		if err := st.Set(ctx, "svc", a, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	w, err := st.Watch(ctx, "svc")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := st.Put(ctx, secrets.Item{Service: "svc", Account: "short-lived", Secret: []byte("x"), Expires: time.Now().Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	for a, fn := range map[string]func(context.Context, keyring.Serial) error{"revoked": p.Revoke, "invalidated": p.Invalidate} {
		id, err := p.Search(ctx, keyring.UserKeyring, "big_key", a, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := fn(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	got := lines(events(t, w, 4))
	sort.Strings(got[1:3])
	want := []string{"created svc/short-lived", "deleted svc/invalidated", "deleted svc/revoked", "expired svc/short-lived"}
	if !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
}

// A Watch that falls behind says Lost, reads the service again, and
// reports what it had not seen: no secret goes unreported.
func TestWatchLost(t *testing.T) {
	defer secrets.SetRecordBuffer(1)()
	ctx := context.Background()
	store := openStore(t, keyring.Options{})
	st := secrets.New(process(t, store, alice), secrets.Options{})
	w, err := st.Watch(ctx, "svc")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	other := secrets.New(process(t, store, alice), secrets.Options{})
	const n = 20
	for i := range n {
		if err := other.Set(ctx, "svc", fmt.Sprint(i), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	created := map[string]bool{}
	lost := false
	tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for e, err := range w.Events(tctx) {
		if err != nil {
			t.Fatalf("after %d created, lost %v: %v", len(created), lost, err)
		}
		switch e.Kind {
		case secrets.Lost:
			lost = true
		case secrets.Created:
			created[e.Account] = true
		}
		if lost && len(created) == n {
			break
		}
	}
	if !lost {
		t.Error("records were dropped, and no Lost event said so")
	}
}

// WatchFrom replays what changed in the service after a revision, by
// name and with the revisions the changes had, then goes on as Watch:
// embedded, over the daemon, and through keyctl's Caller on the daemon.
func TestWatchFromReplays(t *testing.T) {
	modesAndKeyctl(t, func(t *testing.T, store *keyring.Store, c keyring.Caller) {
		ctx := context.Background()
		st := secrets.New(c, secrets.Options{})
		w, err := st.Watch(ctx, "svc")
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Set(ctx, "svc", "kept", []byte("1")); err != nil {
			t.Fatal(err)
		}
		seen := events(t, w, 1)
		from := w.Store()
		w.Close()
		// Away: changes to the service, and to another.
		other := secrets.New(another(t, store, c), secrets.Options{})
		for _, step := range []func() error{
			func() error { return other.Set(ctx, "svc", "kept", []byte("2")) },
			func() error { return other.Set(ctx, "svc", "brief", []byte("x")) },
			func() error { return other.Set(ctx, "elsewhere", "a", []byte("x")) },
			func() error { return other.Delete(ctx, "svc", "brief") },
			func() error { return other.Set(ctx, "svc", "new", []byte("x")) },
		} {
			if err := step(); err != nil {
				t.Fatal(err)
			}
		}
		back := secrets.New(another(t, store, c), secrets.Options{})
		w, err = back.WatchFrom(ctx, "svc", from, seen[0].Revision)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		got := events(t, w, 4)
		want := []string{"updated svc/kept", "created svc/brief", "deleted svc/brief", "created svc/new"}
		if !slices.Equal(lines(got), want) {
			t.Errorf("replayed %q, want %q", lines(got), want)
		}
		for i := 1; i < len(got); i++ {
			if got[i].Revision <= got[i-1].Revision || got[0].Revision <= seen[0].Revision {
				t.Errorf("revisions: %v after %v", got, seen)
			}
		}
		// Then live, with nothing reported twice.
		if err := other.Set(ctx, "svc", "new", []byte("y")); err != nil {
			t.Fatal(err)
		}
		got = events(t, w, 1)
		if !slices.Equal(lines(got), []string{"updated svc/new"}) {
			t.Errorf("live after the replay: %q", lines(got))
		}
		// From the last revision seen: nothing to replay.
		w2, err := secrets.New(another(t, store, c), secrets.Options{}).WatchFrom(ctx, "svc", from, got[0].Revision)
		if err != nil {
			t.Fatal(err)
		}
		defer w2.Close()
		other.Delete(ctx, "svc", "kept")
		if got := lines(events(t, w2, 1)); !slices.Equal(got, []string{"deleted svc/kept"}) {
			t.Errorf("WatchFrom the latest: %q", got)
		}
	})
}

// Where the history cannot say what happened, WatchFrom says Compacted
// first: a revision older than the history, a service deleted meanwhile,
// a revision of another store.
func TestWatchFromCompacted(t *testing.T) {
	ctx := context.Background()
	t.Run("too old", func(t *testing.T) {
		store := openStore(t, keyring.Options{HistoryLen: 4})
		st := secrets.New(process(t, store, alice), secrets.Options{})
		for i := range 5 {
			st.Set(ctx, "svc", fmt.Sprint(i), []byte("x"))
		}
		w, err := st.WatchFrom(ctx, "svc", store.ID(), 1)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		st.Set(ctx, "svc", "a", []byte("1"))
		got := events(t, w, 2)
		if got[0] != (secrets.Event{Kind: secrets.Compacted, Service: "svc", Revision: 1}) || lines(got[1:])[0] != "created svc/a" {
			t.Errorf("events %v", got)
		}
	})
	t.Run("service deleted", func(t *testing.T) {
		store := openStore(t, keyring.Options{})
		st := secrets.New(process(t, store, alice), secrets.Options{})
		w, _ := st.Watch(ctx, "svc")
		st.Set(ctx, "svc", "a", []byte("1"))
		seen := events(t, w, 1)
		w.Close()
		st.DeleteService(ctx, "svc")
		st.Set(ctx, "svc", "b", []byte("1"))
		w, err := st.WatchFrom(ctx, "svc", store.ID(), seen[0].Revision)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		if got := events(t, w, 1); got[0].Kind != secrets.Compacted {
			t.Errorf("events %v", got)
		}
	})
	t.Run("another store or history", func(t *testing.T) {
		modes(t, func(t *testing.T, store *keyring.Store, c keyring.Caller) {
			st := secrets.New(c, secrets.Options{})
			w, _ := st.Watch(ctx, "svc")
			st.Set(ctx, "svc", "a", []byte("1"))
			st.Set(ctx, "svc", "b", []byte("1"))
			seen := events(t, w, 2)
			w.Close()
			// The revision is this store's, and replayable here; said to
			// be another store's, or of another opening of this one (a
			// backup restored), it is not read as this one's.
			for i, from := range []keyring.StoreID{
				{UUID: uuid.New(), History: store.ID().History},
				{UUID: store.UUID(), History: uuid.New()},
			} {
				w, err := secrets.New(another(t, store, c), secrets.Options{}).WatchFrom(ctx, "svc", from, seen[0].Revision)
				if err != nil {
					t.Fatal(err)
				}
				account := fmt.Sprint("c", i)
				st.Set(ctx, "svc", account, []byte("1"))
				if got := events(t, w, 2); got[0] != (secrets.Event{Kind: secrets.Compacted, Service: "svc", Revision: seen[0].Revision}) || lines(got[1:])[0] != "created svc/"+account {
					t.Errorf("from %v: events %v", from, got)
				}
				w.Close()
			}
		})
	})
}
