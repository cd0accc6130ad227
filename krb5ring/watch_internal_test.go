//go:build linux

package krb5ring

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/keyctl-go/keyctl-go/ccache"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/perms"
	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// When records come faster than they are handled and the Watch's buffer
// fills, it says "lost" and reads the collection again, so what changed
// is still reported, once.
func TestWatchReportsLossAndCatchesUp(t *testing.T) {
	defer func(n int) { recordBuffer = n }(recordBuffer)
	recordBuffer = 1

	now := time.Date(2026, 11, 22, 4, 9, 39, 0, time.UTC)
	s, err := keyring.Open(filepath.Join(t.TempDir(), "keys.db"), keyring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	p := s.Process(perms.Cred{UID: 1000, GID: 1000})
	defer p.Release(ctx)
	name, _ := ParseName("KEYRING:session:l")
	col, err := Open(ctx, p, name, Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	q := watchqueue.New(watchqueue.Options{})
	q.SetSize(watchqueue.MaxNotes)
	defer q.Close()
	w, err := col.Watch(ctx, keyring.QueueWatcher(p, q))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()

	b, err := os.ReadFile("../ccache/testdata/mit/v4-kinit.cc")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ccache.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := col.Import(ctx, f); err != nil {
		t.Fatal(err)
	}
	// Two switches that undo each other: records enough to overflow, and
	// a change the catching up cannot see.
	for _, sub := range []string{"elsewhere", "l"} {
		if err := col.Switch(ctx, sub); err != nil {
			t.Fatal(err)
		}
	}
	// Nobody reads Events yet: wait until the pump has dropped something.
	deadline := time.Now().Add(5 * time.Second)
	// Three records (the cache linked, two switches): one held, two dropped.
	for w.loop.Dropped() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the watch dropped %d records, want 2", w.loop.Dropped())
		}
		time.Sleep(time.Millisecond)
	}
	var got []string
	ectx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for e, err := range w.Events(ectx) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e.String())
		if len(got) == 4 {
			break
		}
	}
	sort.Strings(got)
	want := []string{
		"created KEYRING:session:l:l",
		"lost KEYRING:session:l",
		"stored KEYRING:session:l:l krb5_ccache_conf_data/fast_avail/krbtgt\\/TEST.LOCAL\\@TEST.LOCAL@X-CACHECONF:",
		"stored KEYRING:session:l:l krbtgt/TEST.LOCAL@TEST.LOCAL",
	}
	for i := range want {
		if i >= len(got) || got[i] != want[i] {
			t.Fatalf("events %q, want %q in any order", got, want)
		}
	}
	// Nothing more: the next change is the next event, at most after
	// another "lost" if the buffer of one still held an old record when it
	// came; nothing already reported comes again.
	if err := col.Switch(ctx, "elsewhere"); err != nil {
		t.Fatal(err)
	}
	for e, err := range w.Events(ectx) {
		if err != nil {
			t.Fatal(err)
		}
		if e.String() == "primary KEYRING:session:l:elsewhere" {
			break
		}
		if e.Op != EventsLost {
			t.Fatalf("after catching up: %q", e)
		}
	}
}
