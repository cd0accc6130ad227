//go:build linux

package etcdstore

import (
	"context"
	"encoding/hex"
	"errors"
	"iter"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/keyctl-go/keyctl-go/keystore"
)

// The feed: one goroutine per open store that watches the store's prefix
// from the mirror's revision on, and for each etcd revision that changed
// it, in revision order, applies the change to the mirror, tells the
// store (keystore.Feed.Commit) and delivers the commit's notifications
// (Feed.Posted). Every commit reaches every host this way, the writer's
// own included, so that watchers everywhere hear the same records in the
// same order with the same revision.
//
// The writer's commit puts its notifications, sealed by keystore
// (Rows.PutEvents), under a key of its own (P/e/<host>) that each of its
// commits overwrites: the watch still sees each version, and no row piles
// up.
//
// When the watch is cut off, etcd's client resumes it from the last
// revision it delivered, and nothing is missed. If that revision was
// compacted meanwhile, the feed reads the whole store again, tells the
// store that every row changed, and that notifications were lost
// (Feed.Lost), whose watchers then get a loss record: never silently.

// feedRetry is how long the feed waits before it tries again after the
// watch failed for a reason other than compaction.
const feedRetry = 500 * time.Millisecond

func (e *engine) watch(ctx context.Context) {
	defer close(e.feedDone)
	for ctx.Err() == nil {
		e.m.mu.RLock()
		from := e.m.rev + 1
		e.m.mu.RUnlock()
		wch := e.cli.Watch(clientv3.WithRequireLeader(ctx), e.prefix, clientv3.WithPrefix(), clientv3.WithRev(from))
		for resp := range wch {
			if resp.Canceled {
				if errors.Is(resp.Err(), rpctypes.ErrCompacted) || resp.CompactRevision != 0 {
					e.resync(ctx)
				}
				break
			}
			if resp.IsProgressNotify() {
				// Everything up to it was sent, so applied and delivered
				// (this goroutine does both, in order).
				e.m.advance(resp.Header.Revision, true)
				continue
			}
			for len(resp.Events) > 0 {
				rev := resp.Events[0].Kv.ModRevision
				n := 1
				for n < len(resp.Events) && resp.Events[n].Kv.ModRevision == rev {
					n++
				}
				e.apply(rev, resp.Events[:n])
				resp.Events = resp.Events[n:]
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(feedRetry):
		}
	}
}

// apply applies one revision's events to the mirror, then tells the
// store, then delivers the notifications it carried.
func (e *engine) apply(rev int64, evs []*clientv3.Event) {
	var sealed []*mvccpb.KeyValue
	e.m.mu.Lock()
	for _, ev := range evs {
		key := string(ev.Kv.Key)
		switch {
		case ev.Type == clientv3.EventTypeDelete:
			e.m.remove(e, key)
		case strings.HasPrefix(key, e.prefix+"e/"):
			sealed = append(sealed, ev.Kv)
		default:
			e.m.set(e, key, ev.Kv.Value, ev.Kv.ModRevision)
		}
	}
	e.m.rev = rev
	e.feed.Commit(uint64(rev), e.rowsOf(evs))
	e.m.mu.Unlock()
	e.m.advance(rev, false)
	for _, kv := range sealed {
		e.feed.Posted(uint64(rev), kv.Value)
	}
	e.m.advance(rev, true)
}

// rowsOf yields the rows that events put or deleted.
func (e *engine) rowsOf(evs []*clientv3.Event) iter.Seq2[keystore.Bucket, []byte] {
	return func(yield func(keystore.Bucket, []byte) bool) {
		for _, ev := range evs {
			if kind, b, k, ok := e.parse(string(ev.Kv.Key)); ok && kind == 'b' && !yield(b, k) {
				return
			}
		}
	}
}

// resync reads the whole store again after the feed lost its place, and
// tells the store that every row it held, or holds now, changed, and that
// notifications were lost.
func (e *engine) resync(ctx context.Context) {
	for ctx.Err() == nil {
		old, last := e.m.buckets, e.m.rev
		if err := e.load(); err != nil {
			time.Sleep(feedRetry)
			continue
		}
		e.m.mu.Lock()
		rev := e.m.rev
		e.feed.Commit(uint64(rev), func(yield func(keystore.Bucket, []byte) bool) {
			for _, tables := range [][keystore.NumBuckets]table{old, e.m.buckets} {
				for b, t := range tables {
					for k := range t.items {
						if !yield(keystore.Bucket(b), []byte(k)) {
							return
						}
					}
				}
			}
		})
		e.m.mu.Unlock()
		e.feed.Lost(uint64(last), uint64(rev))
		return
	}
}

// parse splits an etcd key under the prefix into what it is: a row of
// bucket b with key k ('b'), a stamp ('s'), or something else.
func (e *engine) parse(key string) (kind byte, b keystore.Bucket, k []byte, ok bool) {
	rest, found := strings.CutPrefix(key, e.prefix)
	if !found || len(rest) < 3 || rest[2] != '/' || (rest[0] != 'b' && rest[0] != 's') {
		return 0, 0, nil, false
	}
	b = keystore.Bucket(rest[1] - '0')
	if int(b) >= keystore.NumBuckets {
		return 0, 0, nil, false
	}
	k, err := hex.DecodeString(rest[3:])
	if err != nil {
		return 0, 0, nil, false
	}
	return rest[0], b, k, true
}
