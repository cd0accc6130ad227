//go:build linux

package keystore

import (
	"encoding/hex"
	"maps"
	"slices"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/keyctl-go/keyctl-go/keystore/internal/journal"
)

// etcdRows is a transaction over a store kept in etcd. It reads from the
// host's mirror at one revision, keeps its writes to itself, and commits
// them as one etcd transaction guarded by what it read (optimistic
// concurrency): the commit is refused if any row it read has changed
// since, and the operation runs again on the newer state (etcdEngine.update).
//
// What a transaction read is guarded at the grain of rows: a row got is
// guarded by its mod revision (0 where there was none, which etcd compares
// as absent). A scan cannot be guarded row by row, since a row deleted
// since leaves nothing to compare, so every scanned range has a stamp: a
// row beside the data that every commit changing the range writes, and
// that a scan is guarded by. The ranges scanned are a keyring's links and
// its index, a key's parents, the orphans and the expiry buckets
// (stampGroup).
type etcdRows struct {
	e     *etcdEngine
	snap  int64 // the mirror's revision the transaction reads at
	write bool

	guards  map[string]int64                 // etcd key → mod revision read
	ranges  []string                         // etcd key prefixes read with no stamp (Check's full scans)
	writes  [idExpiry + 1]map[string]*[]byte // bucket → key → value; nil: deleted
	stamps  map[string]bool                  // stamps to write
	events  []byte                           // sealed notifications of the commit (Tx.PutEvents)
	visible []func()
	durable []func()
}

func (r *etcdRows) id() any        { return r }
func (r *etcdRows) writable() bool { return r.write }

// stampGroup is the range whose stamp covers key k of bucket b, and
// whether it has one.
func stampGroup(b journal.BucketID, k []byte) ([]byte, bool) {
	switch b {
	case idRows:
		if len(k) >= 5 && (k[4] == tagLink || k[4] == tagIndex || k[4] == tagParent) {
			return k[:5], true
		}
	case idOrphans, idExpiry:
		return nil, true
	}
	return nil, false
}

func (r *etcdRows) get(b journal.BucketID, k []byte) []byte {
	if w, ok := r.writes[b][string(k)]; ok {
		if w == nil {
			return nil
		}
		return *w
	}
	it, _ := r.e.m.buckets[b].get(k)
	if r.write {
		if key := r.e.rowKey(b, k); !r.guarded(key) {
			r.guards[key] = it.mod
		}
	}
	return it.val
}

func (r *etcdRows) guarded(key string) bool {
	_, ok := r.guards[key]
	return ok
}

func (r *etcdRows) cursor(b journal.BucketID) rowCursor { return &etcdCursor{r: r, b: b} }

// etcdCursor walks a bucket of the mirror with the transaction's own
// writes merged in.
type etcdCursor struct {
	r   *etcdRows
	b   journal.BucketID
	i   int      // next of the mirror's keys
	own []string // the transaction's written keys from the seek on, sorted
}

// Seek guards the range it starts (etcdRows), which is the range the
// caller walks: a keyring's links or index, a key's parents, a whole
// bucket.
func (c *etcdCursor) Seek(seek []byte) ([]byte, []byte) {
	r := c.r
	if r.write {
		if group, ok := stampGroup(c.b, seek); ok && (c.b != idRows || len(seek) >= 5) {
			if key := r.e.stampKey(c.b, group); !r.guarded(key) {
				r.guards[key] = r.e.m.stamps[key]
			}
		} else {
			r.ranges = append(r.ranges, r.e.rowKey(c.b, seek))
		}
	}
	t := &r.e.m.buckets[c.b]
	c.i, _ = slices.BinarySearch(t.keys, string(seek))
	c.own = c.own[:0]
	for k := range r.writes[c.b] {
		if k >= string(seek) {
			c.own = append(c.own, k)
		}
	}
	slices.Sort(c.own)
	return c.Next()
}

func (c *etcdCursor) Next() ([]byte, []byte) {
	t := &c.r.e.m.buckets[c.b]
	for {
		var k string
		fromMirror := c.i < len(t.keys)
		switch {
		case fromMirror && len(c.own) > 0:
			if c.own[0] <= t.keys[c.i] {
				if c.own[0] == t.keys[c.i] {
					c.i++
				}
				k, fromMirror = c.own[0], false
				c.own = c.own[1:]
			} else {
				k = t.keys[c.i]
				c.i++
			}
		case fromMirror:
			k = t.keys[c.i]
			c.i++
		case len(c.own) > 0:
			k = c.own[0]
			c.own = c.own[1:]
		default:
			return nil, nil
		}
		if fromMirror {
			return []byte(k), t.items[k].val
		}
		if w := c.r.writes[c.b][k]; w != nil {
			return []byte(k), *w
		}
		// deleted by the transaction: on to the next
	}
}

func (r *etcdRows) put(b journal.BucketID, k, v []byte) error {
	r.set(b, k, new(append([]byte{}, v...))) // never nil: an empty value is there
	return nil
}

func (r *etcdRows) del(b journal.BucketID, k []byte) error {
	if r.get(b, k) == nil {
		return nil // nothing to delete; the read is guarded
	}
	r.set(b, k, nil)
	return nil
}

func (r *etcdRows) set(b journal.BucketID, k []byte, v *[]byte) {
	if r.writes[b] == nil {
		r.writes[b] = map[string]*[]byte{}
	}
	r.writes[b][string(k)] = v
	if group, ok := stampGroup(b, k); ok {
		r.stamps[r.e.stampKey(b, group)] = true
	}
}

func (r *etcdRows) revision() uint64           { return uint64(r.snap) }
func (r *etcdRows) countRevision(uint64) error { return nil }

func (r *etcdRows) offerRow() (uint32, error) { return r.e.alloc.offer() }
func (r *etcdRows) tookRow(uint32) error      { return nil }

func (r *etcdRows) onVisible(fn func()) { r.visible = append(r.visible, fn) }
func (r *etcdRows) onDurable(fn func()) { r.durable = append(r.durable, fn) }

// changed reports whether the transaction writes anything.
func (r *etcdRows) changed() bool {
	for _, w := range r.writes {
		if len(w) > 0 {
			return true
		}
	}
	return r.events != nil
}

// txn is the etcd transaction that commits r: its guards, then its writes,
// its stamps and its notifications.
func (r *etcdRows) txn() (cmps []clientv3.Cmp, ops []clientv3.Op) {
	for _, key := range slices.Sorted(maps.Keys(r.guards)) {
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(key), "=", r.guards[key]))
	}
	for _, p := range r.ranges {
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(p), "<", r.snap+1).WithPrefix())
	}
	for b, w := range r.writes {
		for k, v := range w {
			key := r.e.rowKey(journal.BucketID(b), []byte(k))
			if v == nil {
				ops = append(ops, clientv3.OpDelete(key))
			} else {
				ops = append(ops, clientv3.OpPut(key, string(*v)))
			}
		}
	}
	for key := range r.stamps {
		ops = append(ops, clientv3.OpPut(key, ""))
	}
	if r.events != nil {
		ops = append(ops, clientv3.OpPut(r.e.eventsKey, string(r.events)))
	}
	return cmps, ops
}

// Keys in etcd, under the store's prefix P (EtcdOptions.Prefix):
//
//	P/b<bucket>/<hex key>  a row of bucket <bucket> (the digit of its
//	                       journal id), its value as a file holds it
//	P/s<bucket>/<hex key>  a stamp (etcdRows), empty
//	P/e/<host>             the sealed notifications of host's last
//	                       commit (etcd_feed.go)
//	P/a                    u32: the next block of rows to hand out (etcd_alloc.go)
//
// Keys are hex so that etcd's byte order is the rows' order and every key
// is printable for etcdctl.
func (e *etcdEngine) rowKey(b journal.BucketID, k []byte) string {
	return e.prefix + "b" + string(rune('0'+b)) + "/" + hex.EncodeToString(k)
}

func (e *etcdEngine) stampKey(b journal.BucketID, group []byte) string {
	return e.prefix + "s" + string(rune('0'+b)) + "/" + hex.EncodeToString(group)
}
