//go:build linux

package notify_test

import (
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/notify"
	"github.com/keyctl-go/keyctl-go/perms"
	"github.com/keyctl-go/keyctl-go/watchqueue"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	alice = perms.Cred{UID: 1000, GID: 1000}
	bob   = perms.Cred{UID: 1001, GID: 1001}
)

func newQueue(t testing.TB, opts watchqueue.Options) *watchqueue.Queue {
	t.Helper()
	q := watchqueue.New(opts)
	if err := q.SetSize(256); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

func keyRec(sub watchqueue.KeySubtype, id, aux uint32) []byte {
	return watchqueue.KeyNotification{Subtype: sub, KeyID: id, Aux: aux}.AppendBinary(nil, false)
}

func read(t testing.TB, q *watchqueue.Queue) []watchqueue.Record {
	t.Helper()
	var recs []watchqueue.Record
	buf := make([]byte, watchqueue.ReadBufferSize)
	for {
		n, err := q.TryRead(buf)
		if errors.Is(err, unix.EAGAIN) {
			return recs
		}
		if err != nil {
			t.Fatal(err)
		}
		for b := buf[:n]; len(b) > 0; {
			r, size, err := watchqueue.Decode(b, q.Revisions())
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, r)
			b = b[size:]
		}
	}
}

func TestPostReachesEveryWatchWithItsTag(t *testing.T) {
	p := notify.NewPolicy(notify.PolicyOptions{})
	l := notify.NewWatchList(42, p)
	q1, q2 := newQueue(t, watchqueue.Options{}), newQueue(t, watchqueue.Options{})
	if err := l.Add(q1, 1, alice); err != nil {
		t.Fatal(err)
	}
	if err := l.Add(q2, 200, bob); err != nil {
		t.Fatal(err)
	}
	if n := l.Post(keyRec(watchqueue.KeyLinked, 42, 7), alice, 0); n != 2 {
		t.Errorf("Post reached %d queues, want 2", n)
	}
	for q, tag := range map[*watchqueue.Queue]uint8{q1: 1, q2: 200} {
		got := read(t, q)
		want := watchqueue.KeyNotification{Subtype: watchqueue.KeyLinked, Tag: tag, KeyID: 42, Aux: 7}
		if len(got) != 1 || got[0] != want {
			t.Errorf("queue with tag %d read %v, want %v", tag, got, want)
		}
	}
}

func TestAddErrors(t *testing.T) {
	p := notify.NewPolicy(notify.PolicyOptions{})
	l := notify.NewWatchList(1, p)
	q := newQueue(t, watchqueue.Options{})
	if err := l.Add(q, 1, alice); err != nil {
		t.Fatal(err)
	}
	if err := l.Add(q, 2, alice); !errors.Is(err, unix.EBUSY) {
		t.Errorf("second watch by the same queue, other tag = %v, want EBUSY", err)
	}
	closed := watchqueue.New(watchqueue.Options{})
	closed.Close()
	if err := l.Add(closed, 1, alice); !errors.Is(err, unix.ENOENT) {
		t.Errorf("watch by a closed queue = %v, want ENOENT", err)
	}
	if p.Watches(alice.UID) != 1 || l.Len() != 1 {
		t.Errorf("failed Adds left %d watches charged, %d listed; want 1 and 1", p.Watches(alice.UID), l.Len())
	}
	l.Destroy(0)
	if err := l.Add(newQueue(t, watchqueue.Options{}), 1, alice); !errors.Is(err, unix.ENOENT) {
		t.Errorf("watch on a destroyed object = %v, want ENOENT", err)
	}
}

func TestRemoveSendsRemovalRecord(t *testing.T) {
	p := notify.NewPolicy(notify.PolicyOptions{})
	l := notify.NewWatchList(0x1234, p)
	q := newQueue(t, watchqueue.Options{})
	if err := l.Remove(q, 0); !errors.Is(err, unix.EBADSLT) {
		t.Errorf("Remove of no watch = %v, want EBADSLT", err)
	}
	if err := l.Add(q, 9, alice); err != nil {
		t.Fatal(err)
	}
	if err := l.Remove(q, 0); err != nil {
		t.Fatal(err)
	}
	want := []watchqueue.Record{watchqueue.Removal{Tag: 9, ID: 0x1234, HasID: true}}
	if got := read(t, q); len(got) != 1 || got[0] != want[0] {
		t.Errorf("read %v, want %v", got, want)
	}
	if err := l.Remove(q, 0); !errors.Is(err, unix.EBADSLT) {
		t.Errorf("second Remove = %v, want EBADSLT", err)
	}
	if l.Post(keyRec(watchqueue.KeyUpdated, 0x1234, 0), alice, 0) != 0 || len(read(t, q)) != 0 {
		t.Error("a removed watch still receives posts")
	}
	if p.Watches(alice.UID) != 0 || q.Attached() != 0 {
		t.Errorf("after Remove: %d watches charged, %d attached to the queue", p.Watches(alice.UID), q.Attached())
	}
}

func TestDestroySendsRemovalToEveryWatch(t *testing.T) {
	p := notify.NewPolicy(notify.PolicyOptions{})
	l := notify.NewWatchList(77, p)
	// Three watches on one object, each from a queue of its own.
	qs := []*watchqueue.Queue{newQueue(t, watchqueue.Options{}), newQueue(t, watchqueue.Options{}), newQueue(t, watchqueue.Options{})}
	for i, q := range qs {
		if err := l.Add(q, uint8(10+i), alice); err != nil {
			t.Fatal(err)
		}
	}
	l.Destroy(0)
	for i, q := range qs {
		got := read(t, q)
		want := watchqueue.Removal{Tag: uint8(10 + i), ID: 77, HasID: true}
		if len(got) != 1 || got[0] != want {
			t.Errorf("queue %d read %v, want %v", i, got, want)
		}
	}

	// One queue watching several objects hears of each destruction.
	a, b := notify.NewWatchList(1, p), notify.NewWatchList(2, p)
	one := newQueue(t, watchqueue.Options{})
	if err := a.Add(one, 1, alice); err != nil {
		t.Fatal(err)
	}
	if err := b.Add(one, 2, alice); err != nil {
		t.Fatal(err)
	}
	b.Destroy(0)
	a.Destroy(0)
	got := read(t, one)
	if len(got) != 2 || got[0].(watchqueue.Removal).ID != 2 || got[1].(watchqueue.Removal).ID != 1 {
		t.Errorf("read %v, want removal of 2 then of 1", got)
	}
	if p.Watches(alice.UID) != 0 {
		t.Errorf("%d watches still charged after Destroy", p.Watches(alice.UID))
	}
}

func TestPostReachesNewestWatchFirst(t *testing.T) {
	// The kernel inserts new watches at the head of the list, and posts and
	// destruction walk it from there. The order shows through a security
	// hook that records which tag each post reaches.
	rec := &recordingSecurity{}
	p := notify.NewPolicy(notify.PolicyOptions{Security: rec})
	l := notify.NewWatchList(5, p)
	for tag := range uint8(3) {
		if err := l.Add(newQueue(t, watchqueue.Options{}), tag, alice); err != nil {
			t.Fatal(err)
		}
	}
	l.Post(keyRec(watchqueue.KeyUpdated, 5, 0), bob, 0)
	if got := rec.tags(); len(got) != 3 || got[0] != 2 || got[1] != 1 || got[2] != 0 {
		t.Errorf("posts reached tags %v, want newest watch first: [2 1 0]", got)
	}
}

type recordingSecurity struct {
	mu      sync.Mutex
	reached []uint8
	refuse  error
	posters []perms.Cred
	owners  []perms.Cred
}

func (r *recordingSecurity) MayWatch(c perms.Cred, object uint64) error { return r.refuse }

func (r *recordingSecurity) MayPost(watcher, poster perms.Cred, object uint64, h watchqueue.Header) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reached = append(r.reached, h.Tag())
	r.owners = append(r.owners, watcher)
	r.posters = append(r.posters, poster)
	return watcher.UID != 666
}

func (r *recordingSecurity) tags() []uint8 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]uint8(nil), r.reached...)
}

func TestSecurityHooks(t *testing.T) {
	sec := &recordingSecurity{}
	p := notify.NewPolicy(notify.PolicyOptions{Security: sec})
	l := notify.NewWatchList(3, p)

	sec.refuse = errors.Join(unix.EACCES)
	if err := l.Add(newQueue(t, watchqueue.Options{}), 1, alice); !errors.Is(err, unix.EACCES) {
		t.Fatalf("Add refused by MayWatch = %v, want EACCES", err)
	}
	if p.Watches(alice.UID) != 0 {
		t.Error("a refused watch was charged")
	}
	sec.refuse = nil

	owner := perms.Cred{UID: 1000, GID: 1000, Groups: []uint32{10, 20}}
	allowed, denied := newQueue(t, watchqueue.Options{}), newQueue(t, watchqueue.Options{})
	if err := l.Add(allowed, 1, owner); err != nil {
		t.Fatal(err)
	}
	if err := l.Add(denied, 2, perms.Cred{UID: 666}); err != nil {
		t.Fatal(err)
	}
	owner.Groups[0] = 99 // the watch captured a copy; this must not reach it

	if n := l.Post(keyRec(watchqueue.KeyUpdated, 3, 0), bob, 0); n != 1 {
		t.Errorf("Post reached %d queues, want 1 (MayPost refuses uid 666)", n)
	}
	if len(read(t, denied)) != 0 || len(read(t, allowed)) != 1 {
		t.Error("MayPost's answer was not honoured")
	}
	for i, o := range sec.owners {
		if o.UID == 1000 && o.Groups[0] != 10 {
			t.Errorf("MayPost %d saw the owner's groups %v, not the ones captured at Add", i, o.Groups)
		}
	}
	for _, poster := range sec.posters {
		if poster.UID != bob.UID {
			t.Errorf("MayPost saw poster %+v, want bob", poster)
		}
	}
}

func TestPostAppliesEachQueuesFilter(t *testing.T) {
	p := notify.NewPolicy(notify.PolicyOptions{})
	l := notify.NewWatchList(8, p)
	linksOnly, tagged, all := newQueue(t, watchqueue.Options{}), newQueue(t, watchqueue.Options{}), newQueue(t, watchqueue.Options{})
	var links watchqueue.SubtypeSet
	links.Add(uint8(watchqueue.KeyLinked))
	if err := linksOnly.SetFilter(&watchqueue.Filter{Types: []watchqueue.TypeFilter{{Type: watchqueue.TypeKeyNotify, Subtypes: links}}}); err != nil {
		t.Fatal(err)
	}
	// A filter on the watch tag: the tag is in info before the filter runs.
	var every watchqueue.SubtypeSet
	every.Add(0, 1, 2, 3, 4, 5, 6, 7)
	if err := tagged.SetFilter(&watchqueue.Filter{Types: []watchqueue.TypeFilter{{
		Type: watchqueue.TypeKeyNotify, Subtypes: every, InfoMask: watchqueue.InfoID, InfoFilter: 5 << watchqueue.InfoIDShift,
	}}}); err != nil {
		t.Fatal(err)
	}
	for q, tag := range map[*watchqueue.Queue]uint8{linksOnly: 1, tagged: 5, all: 1} {
		if err := l.Add(q, tag, alice); err != nil {
			t.Fatal(err)
		}
	}
	l.Post(keyRec(watchqueue.KeyUpdated, 8, 0), alice, 0)
	l.Post(keyRec(watchqueue.KeyLinked, 8, 9), alice, 0)
	if got := len(read(t, linksOnly)); got != 1 {
		t.Errorf("link-only queue got %d records, want 1", got)
	}
	if got := len(read(t, tagged)); got != 2 {
		t.Errorf("tag-5 queue got %d records, want 2", got)
	}
	if got := len(read(t, all)); got != 2 {
		t.Errorf("unfiltered queue got %d records, want 2", got)
	}
	// Removal records are never filtered.
	l.Destroy(0)
	if got := read(t, linksOnly); len(got) != 1 {
		t.Errorf("link-only queue got %v on destroy, want the removal record", got)
	}
}

func TestRevisionsFlowFromPoster(t *testing.T) {
	p := notify.NewPolicy(notify.PolicyOptions{})
	l := notify.NewWatchList(4, p)
	q := newQueue(t, watchqueue.Options{Revisions: true})
	plain := newQueue(t, watchqueue.Options{})
	if err := l.Add(q, 1, alice); err != nil {
		t.Fatal(err)
	}
	if err := l.Add(plain, 1, alice); err != nil {
		t.Fatal(err)
	}
	l.Post(keyRec(watchqueue.KeyUpdated, 4, 0), alice, 41)
	l.Destroy(42)
	got := read(t, q)
	if len(got) != 2 || got[0].(watchqueue.KeyNotification).Revision != 41 || got[1].(watchqueue.Removal).Revision != 42 {
		t.Errorf("revision queue read %+v, want revisions 41 and 42", got)
	}
	if got := read(t, plain); len(got) != 2 || got[0].(watchqueue.KeyNotification).Revision != 0 {
		t.Errorf("plain queue read %+v, want kernel records", got)
	}
}

func TestQueueCloseDropsWatchesSilently(t *testing.T) {
	p := notify.NewPolicy(notify.PolicyOptions{})
	objects := make([]*notify.WatchList, 10)
	q := watchqueue.New(watchqueue.Options{})
	if err := q.SetSize(32); err != nil {
		t.Fatal(err)
	}
	other := newQueue(t, watchqueue.Options{})
	for i := range objects {
		objects[i] = notify.NewWatchList(uint64(i), p)
		if err := objects[i].Add(q, 1, alice); err != nil {
			t.Fatal(err)
		}
		if err := objects[i].Add(other, 1, bob); err != nil {
			t.Fatal(err)
		}
	}
	q.Close()
	if p.Watches(alice.UID) != 0 {
		t.Errorf("%d watches still charged after their queue closed", p.Watches(alice.UID))
	}
	for _, l := range objects {
		if l.Len() != 1 {
			t.Fatalf("object %d has %d watches after one queue closed, want 1", l.ID(), l.Len())
		}
		l.Destroy(0)
	}
	// Only the other queue hears of the destruction.
	if got := read(t, other); len(got) != 10 {
		t.Errorf("the open queue read %d removal records, want 10", len(got))
	}
	if p.Watches(bob.UID) != 0 {
		t.Errorf("%d of bob's watches still charged", p.Watches(bob.UID))
	}
}

// 29e44f4535 "watch_queue: Limit the number of watches a user can hold",
// replayed as its commit message tests it: with a limit of 99, watching 200
// keyrings fails at the 100th with EAGAIN; removing the keyrings returns
// every watch.
func TestFixLimitWatchesPerUser_29e44f4535(t *testing.T) {
	p := notify.NewPolicy(notify.PolicyOptions{WatchLimit: 99})
	q := newQueue(t, watchqueue.Options{})
	rings := make([]*notify.WatchList, 200)
	added := 0
	var failure error
	for i := range rings {
		rings[i] = notify.NewWatchList(uint64(i+1), p)
		if failure == nil {
			if failure = rings[i].Add(q, 5, alice); failure == nil {
				added++
			}
		}
	}
	if added != 99 || !errors.Is(failure, unix.EAGAIN) {
		t.Errorf("added %d watches then %v; want 99 then EAGAIN", added, failure)
	}
	// The limit is per user: bob is not affected by alice's watches.
	if err := rings[150].Add(newQueue(t, watchqueue.Options{}), 1, bob); err != nil {
		t.Errorf("bob's first watch refused: %v", err)
	}
	for _, l := range rings {
		l.Destroy(0)
	}
	if p.Watches(alice.UID) != 0 || p.Watches(bob.UID) != 0 {
		t.Errorf("after removing the keyrings: alice holds %d, bob %d watches", p.Watches(alice.UID), p.Watches(bob.UID))
	}
}

// "watch_queue: Actually free the watch" (3d8dcf278b), "Free the page array
// when watch_queue is dismantled" (b490207017) and "Free the alloc bitmap"
// (7ea1a0124b6d): 10^5 cycles of create, size, watch, post, close leave the
// heap and goroutines where they started and every quota at zero.
func TestFixTeardownFreesEverything_3d8dcf278b(t *testing.T) {
	cycles := 100_000
	if testing.Short() {
		cycles = 10_000
	}
	p := notify.NewPolicy(notify.PolicyOptions{WatchLimit: 4})
	object := notify.NewWatchList(9, p)
	rec := keyRec(watchqueue.KeyUpdated, 9, 0)
	cycle := func() {
		q := watchqueue.New(watchqueue.Options{})
		if err := q.SetSize(512); err != nil {
			t.Fatal(err)
		}
		if err := object.Add(q, 1, alice); err != nil {
			t.Fatal(err) // EAGAIN here means a closed queue's watch kept its quota
		}
		object.Post(rec, alice, 0)
		q.Close()
	}
	for range 1000 {
		cycle()
	}
	before := heapInUse()
	for range cycles {
		cycle()
	}
	after := heapInUse()
	// Each leaked queue would hold 64 KiB of notes; a leaked watch ~100 bytes.
	// 1 MiB of slack is far below either multiplied by 10^5.
	if after > before+1<<20 {
		t.Errorf("heap grew from %d to %d bytes over %d cycles", before, after, cycles)
	}
	if object.Len() != 0 || p.Watches(alice.UID) != 0 {
		t.Errorf("after %d cycles: %d watches listed, %d charged", cycles, object.Len(), p.Watches(alice.UID))
	}
	if err := goleak.Find(); err != nil {
		t.Error(err)
	}
}

func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// "watch_queue: Fix missing locking in add_watch_to_object": the duplicate
// check and the insert must be one step. Many goroutines adding the same
// queue to the same object: exactly one wins, the rest get EBUSY, and the
// quota counts one watch.
func TestFixAddWatchLocking(t *testing.T) {
	for range 100 {
		p := notify.NewPolicy(notify.PolicyOptions{})
		l := notify.NewWatchList(1, p)
		q := newQueue(t, watchqueue.Options{})
		var wins, busy atomic.Int32
		var wg sync.WaitGroup
		for tag := range uint8(8) {
			wg.Go(func() {
				switch err := l.Add(q, tag, alice); {
				case err == nil:
					wins.Add(1)
				case errors.Is(err, unix.EBUSY):
					busy.Add(1)
				default:
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 || busy.Load() != 7 || l.Len() != 1 || p.Watches(alice.UID) != 1 {
			t.Fatalf("%d wins, %d EBUSY, %d listed, %d charged; want 1, 7, 1, 1", wins.Load(), busy.Load(), l.Len(), p.Watches(alice.UID))
		}
	}
}

// Every way a watch can end, racing every other: the quota comes back once.
func TestQuotaReturnedExactlyOnceUnderRaces(t *testing.T) {
	p := notify.NewPolicy(notify.PolicyOptions{WatchLimit: 1000})
	for range 300 {
		l := notify.NewWatchList(1, p)
		q := watchqueue.New(watchqueue.Options{})
		if err := q.SetSize(32); err != nil {
			t.Fatal(err)
		}
		if err := l.Add(q, 1, alice); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Go(func() { q.Close() })
		wg.Go(func() { l.Remove(q, 0) })
		wg.Go(func() { l.Destroy(0) })
		wg.Go(func() { l.Post(keyRec(watchqueue.KeyUpdated, 1, 0), alice, 0) })
		wg.Wait()
		if n := p.Watches(alice.UID); n != 0 {
			t.Fatalf("%d watches charged after the watch ended three ways at once", n)
		}
	}
}
