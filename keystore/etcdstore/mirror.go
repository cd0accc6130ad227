//go:build linux

package etcdstore

import (
	"context"
	"iter"
	"slices"
	"strings"
	"sync"

	"github.com/keyctl-go/keyctl-go/keystore"
)

// mirror is this host's copy of a store kept in etcd: every row and
// stamp under the store's prefix, at one etcd revision, kept current by
// a watch (feed.go). Reads are served from it, so a read costs what it
// costs on a file; a write transaction reads from it too, and etcd
// refuses the commit if anything it read has changed since (rows.go).
//
// mu guards it: transactions hold it for reading while their function
// runs, the feed for writing while it applies one revision, so that a
// transaction sees the store as of one revision. Lock order: mirror.mu
// before nothing; the feed delivers notifications after letting it go.
type mirror struct {
	mu      readerLock
	rev     int64 // etcd revision applied
	buckets [keystore.NumBuckets]table
	stamps  map[string]int64 // stamp key → mod revision (rows.go)

	// progress: how far the mirror has applied and delivered, for those
	// who wait on it (a writer for its own commit, a linearizable read).
	progressMu sync.Mutex
	applied    int64         // = rev, readable without mu
	delivered  int64         // revision whose notifications have been delivered
	failed     error         // the feed stopped for good (the store closed)
	tick       chan struct{} // closed and replaced whenever any of them moves
}

// item is a row's value and the etcd revision that last changed it.
type item struct {
	val []byte
	mod int64
}

// table is one bucket: the rows by key, and their keys in order for scans.
type table struct {
	items map[string]item
	keys  []string // sorted
}

func newMirror() *mirror {
	m := &mirror{stamps: map[string]int64{}}
	for i := range m.buckets {
		m.buckets[i].items = map[string]item{}
	}
	m.tick = make(chan struct{})
	return m
}

func (t *table) get(k []byte) (item, bool) {
	it, ok := t.items[string(k)]
	return it, ok
}

func (t *table) set(k string, it item) {
	if _, ok := t.items[k]; !ok {
		i, _ := slices.BinarySearch(t.keys, k)
		t.keys = slices.Insert(t.keys, i, k)
	}
	t.items[k] = it
}

func (t *table) delete(k string) {
	if _, ok := t.items[k]; !ok {
		return
	}
	delete(t.items, k)
	if i, found := slices.BinarySearch(t.keys, k); found {
		t.keys = slices.Delete(t.keys, i, i+1)
	}
}

// scan yields the rows whose keys start with prefix, in key order. The
// caller holds mu.
func (t *table) scan(prefix string) iter.Seq2[string, item] {
	return func(yield func(string, item) bool) {
		i, _ := slices.BinarySearch(t.keys, prefix)
		for ; i < len(t.keys) && strings.HasPrefix(t.keys[i], prefix); i++ {
			k := t.keys[i]
			if !yield(k, t.items[k]) {
				return
			}
		}
	}
}

// advance records that the mirror holds revision rev, and, if delivered,
// that its notifications have been delivered, and wakes whoever waits.
func (m *mirror) advance(rev int64, delivered bool) {
	m.progressMu.Lock()
	m.applied = max(m.applied, rev)
	if delivered {
		m.delivered = max(m.delivered, rev)
	}
	close(m.tick)
	m.tick = make(chan struct{})
	m.progressMu.Unlock()
}

// stop wakes every waiter for good with err.
func (m *mirror) stop(err error) {
	m.progressMu.Lock()
	m.failed = err
	close(m.tick)
	m.tick = make(chan struct{})
	m.progressMu.Unlock()
}

// await returns once the mirror has applied revision rev (and, if
// delivered, delivered its notifications), or ctx ends, or the feed
// stops.
func (m *mirror) await(ctx context.Context, rev int64, delivered bool) error {
	for {
		m.progressMu.Lock()
		done := m.applied >= rev && (!delivered || m.delivered >= rev)
		failed, tick := m.failed, m.tick
		m.progressMu.Unlock()
		switch {
		case done:
			return nil
		case failed != nil:
			return failed
		}
		select {
		case <-tick:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// set puts a row or stamp read from etcd into the mirror. The caller
// holds mu, or owns m.
func (m *mirror) set(e *engine, key string, val []byte, mod int64) {
	kind, b, k, ok := e.parse(key)
	switch {
	case !ok:
	case kind == 's':
		m.stamps[key] = mod
	default:
		if val == nil {
			val = []byte{} // an empty value is there: Get tells it from none by nil
		}
		m.buckets[b].set(string(k), item{val: val, mod: mod})
	}
}

// remove deletes a row or stamp etcd deleted. The caller holds mu.
func (m *mirror) remove(e *engine, key string) {
	kind, b, k, ok := e.parse(key)
	switch {
	case !ok:
	case kind == 's':
		delete(m.stamps, key)
	default:
		m.buckets[b].delete(string(k))
	}
}
