//go:build linux

package keystore

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/keyctl-go/keyctl-go/keystore/internal/journal"
)

// The feed: one goroutine per store in etcd that watches the store's
// prefix from the mirror's revision on, and for each etcd revision that
// changed it, in revision order, applies the change to the mirror, tells
// the cache above (OnChange) and posts the commit's notifications
// (OnEvents). Every commit reaches every host this way, the writer's own
// included, so that watchers everywhere hear the same records in the same
// order with the same revision.
//
// The writer computes the notifications (package keyring) and puts them,
// sealed, in the same etcd transaction as the change (Tx.PutEvents), under
// a key of its own (P/e/<host>) that each of its commits overwrites: the
// watch still sees each version, and no row piles up.
//
// When the watch is cut off, etcd's client resumes it from the last
// revision it delivered, and nothing is missed. If that revision was
// compacted meanwhile, the feed reads the whole store again, tells the
// cache that everything changed, and tells OnLoss, whose watchers then get
// a loss record: some notifications are gone, never silently.

// OnEvents sets fn to be told of the notifications each commit to a
// store in etcd carried (Tx.PutEvents), whoever made it, in revision
// order, after OnChange's fn has seen the commit, with the commit's
// revision. b is the caller's to keep. Set it once, before the first
// Update.
func (db *DB) OnEvents(fn func(rev uint64, b []byte)) { db.onEvents = fn }

// OnLoss sets fn to be told that the feed of a store in etcd missed
// changes (its watch resumed after etcd compacted them away): the
// notifications of the changes after revision last are lost, and the
// mirror holds the store as of revision now.
func (db *DB) OnLoss(fn func(last, now uint64)) { db.onLoss = fn }

// Shared reports whether the store is shared by hosts (kept in etcd):
// notifications then go through PutEvents and OnEvents.
func (db *DB) Shared() bool { return db.shared != nil }

// PutEvents puts b, the notifications this transaction's commit posts,
// sealed, into the commit, for OnEvents on every host. It reports false,
// and does nothing, on a store of one host, where the caller posts them
// from OnCommit.
func (tx *Tx) PutEvents(b []byte) bool {
	r, ok := tx.rows.(*etcdRows)
	if !ok {
		return false
	}
	r.events = tx.db.sealer.Seal(nil, b, eventsBinding(r.e.eventsKey))
	return true
}

// eventsBinding ties sealed notifications to the key they were put under.
func eventsBinding(key string) []byte { return []byte("events\x00" + key) }

// feedRetry is how long the feed waits before it tries again after the
// watch failed for a reason other than compaction.
const feedRetry = 500 * time.Millisecond

func (e *etcdEngine) feed(ctx context.Context, db *DB) {
	defer close(e.feedDone)
	for ctx.Err() == nil {
		e.m.mu.RLock()
		from := e.m.rev + 1
		e.m.mu.RUnlock()
		wch := e.cli.Watch(clientv3.WithRequireLeader(ctx), e.prefix, clientv3.WithPrefix(), clientv3.WithRev(from))
		for resp := range wch {
			if resp.Canceled {
				if errors.Is(resp.Err(), rpctypes.ErrCompacted) || resp.CompactRevision != 0 {
					e.resync(db)
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
				e.apply(db, rev, resp.Events[:n])
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
// cache, then delivers the notifications it carried.
func (e *etcdEngine) apply(db *DB, rev int64, evs []*clientv3.Event) {
	ch := &Changes{Revision: uint64(rev), Keys: map[uint32]bool{}}
	var sealed []*mvccpb.KeyValue
	e.m.mu.Lock()
	for _, ev := range evs {
		key := string(ev.Kv.Key)
		if ev.Type == clientv3.EventTypeDelete {
			e.m.remove(e, key, ch, db)
			continue
		}
		if strings.HasPrefix(key, e.prefix+"e/") {
			sealed = append(sealed, ev.Kv)
			continue
		}
		e.m.set(e, key, ev.Kv.Value, ev.Kv.ModRevision)
		e.m.changed(e, key, ch, db)
	}
	e.m.rev = rev
	if db.onChange != nil {
		db.onChange(ch)
	}
	e.m.mu.Unlock()
	e.m.advance(rev, false)
	for _, kv := range sealed {
		b, err := db.sealer.Open(nil, kv.Value, eventsBinding(string(kv.Key)))
		if err == nil && db.onEvents != nil {
			db.onEvents(uint64(rev), b)
		}
	}
	e.m.advance(rev, true)
}

// resync reads the whole store again after the feed lost its place, and
// tells the cache and OnLoss.
func (e *etcdEngine) resync(db *DB) {
	for {
		old, last := e.m.buckets[idRows], e.m.rev
		if err := e.load(); err != nil {
			time.Sleep(feedRetry)
			continue
		}
		e.m.mu.Lock()
		ch := &Changes{Revision: uint64(e.m.rev), Keys: map[uint32]bool{}, Graph: true}
		for _, t := range []table{old, e.m.buckets[idRows]} {
			for k := range t.items {
				if len(k) >= 4 && db.perm != nil {
					ch.Keys[db.perm.serial(binary.BigEndian.Uint32([]byte(k[:4])))] = true
				}
			}
		}
		if db.onChange != nil {
			db.onChange(ch)
		}
		rev := e.m.rev
		e.m.mu.Unlock()
		if db.onLoss != nil {
			db.onLoss(uint64(last), uint64(rev))
		}
		return
	}
}

// parse splits an etcd key under the prefix into what it is: a row of
// bucket b with key k ('b'), a stamp ('s'), or something else.
func (e *etcdEngine) parse(key string) (kind byte, b journal.BucketID, k []byte, ok bool) {
	rest, found := strings.CutPrefix(key, e.prefix)
	if !found || len(rest) < 3 || rest[2] != '/' || (rest[0] != 'b' && rest[0] != 's') {
		return 0, 0, nil, false
	}
	b = journal.BucketID(rest[1] - '0')
	if b > idExpiry {
		return 0, 0, nil, false
	}
	k, err := hex.DecodeString(rest[3:])
	if err != nil {
		return 0, 0, nil, false
	}
	return rest[0], b, k, true
}

// set puts a row or stamp read from etcd into the mirror. The caller
// holds mu, or owns m.
func (m *mirror) set(e *etcdEngine, key string, val []byte, mod int64) {
	kind, b, k, ok := e.parse(key)
	switch {
	case !ok:
	case kind == 's':
		m.stamps[key] = mod
	default:
		if val == nil {
			val = []byte{} // an empty value is there: get tells it from none by nil
		}
		m.buckets[b].set(string(k), item{val: val, mod: mod})
	}
}

func (m *mirror) remove(e *etcdEngine, key string, ch *Changes, db *DB) {
	kind, b, k, ok := e.parse(key)
	switch {
	case !ok:
		return
	case kind == 's':
		delete(m.stamps, key)
		return
	}
	m.buckets[b].delete(string(k))
	m.changed(e, key, ch, db)
}

// changed notes in ch what a changed row means to the caches above: the
// key it belongs to, and whether possession, permission or search may
// have changed (anything but a payload).
func (m *mirror) changed(e *etcdEngine, key string, ch *Changes, db *DB) {
	kind, b, k, ok := e.parse(key)
	if !ok || kind != 'b' {
		return
	}
	switch b {
	case idRows:
		if len(k) >= 5 {
			ch.Keys[db.perm.serial(binary.BigEndian.Uint32(k))] = true
			if k[4] != tagPayload {
				ch.Graph = true
			}
		}
	case idNames:
		ch.Graph = true
	}
}
