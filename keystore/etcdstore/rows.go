//go:build linux

package etcdstore

import (
	"encoding/hex"
	"maps"
	"slices"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/keyctl-go/keyctl-go/keystore"
)

// rows is a transaction over a store kept in etcd (keystore.Rows). It
// reads from the host's mirror at one revision, keeps its writes to
// itself, and commits them as one etcd transaction guarded by what it
// read (optimistic concurrency): the commit is refused if any row it read
// has changed since, and the operation runs again on the newer state
// (engine.Update).
//
// What a transaction read is guarded at the grain of rows: a row got is
// guarded by its mod revision (0 where there was none, which etcd compares
// as absent). A walk cannot be guarded row by row, since a row deleted
// since leaves nothing to compare, so every range that transactions walk
// (keystore.RangeOf) has a stamp: a key beside the rows that every commit
// changing the range writes, and that a walk is guarded by. A walk of a
// range that has none (Check's walks of whole buckets) is guarded by the
// mod revisions of every key under its prefix.
type rows struct {
	e     *engine
	snap  int64 // the mirror's revision the transaction reads at
	write bool

	guards map[string]int64                        // etcd key → mod revision read
	ranges []string                                // etcd key prefixes walked with no stamp
	writes [keystore.NumBuckets]map[string]*[]byte // bucket → key → value; nil: deleted
	stamps map[string]bool                         // stamps to write
	events []byte                                  // sealed notifications of the commit
}

func (r *rows) Get(b keystore.Bucket, k []byte) []byte {
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

func (r *rows) guarded(key string) bool {
	_, ok := r.guards[key]
	return ok
}

func (r *rows) Cursor(b keystore.Bucket) keystore.Cursor { return &cursor{r: r, b: b} }

// cursor walks a bucket of the mirror with the transaction's own writes
// merged in.
type cursor struct {
	r   *rows
	b   keystore.Bucket
	i   int      // next of the mirror's keys
	own []string // the transaction's written keys from the seek on, sorted
}

// Seek guards the range it starts (rows), which is the range the caller
// walks: a keyring's links or index, a key's parents, a whole bucket.
func (c *cursor) Seek(seek []byte) ([]byte, []byte) {
	r := c.r
	if r.write {
		if rng, ok := keystore.RangeOf(c.b, seek); ok {
			if key := r.e.stampKey(c.b, rng); !r.guarded(key) {
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

func (c *cursor) Next() ([]byte, []byte) {
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

func (r *rows) Put(b keystore.Bucket, k, v []byte) error {
	if v == nil {
		v = []byte{} // never nil: an empty value is there
	}
	r.set(b, k, &v)
	return nil
}

func (r *rows) Delete(b keystore.Bucket, k []byte) error {
	if r.Get(b, k) == nil {
		return nil // nothing to delete; the read is guarded
	}
	r.set(b, k, nil)
	return nil
}

func (r *rows) set(b keystore.Bucket, k []byte, v *[]byte) {
	if r.writes[b] == nil {
		r.writes[b] = map[string]*[]byte{}
	}
	r.writes[b][string(k)] = v
	if rng, ok := keystore.RangeOf(b, k); ok {
		r.stamps[r.e.stampKey(b, rng)] = true
	}
}

func (r *rows) Revision() uint64 { return uint64(r.snap) }

func (r *rows) NewRow() (uint32, error) { return r.e.alloc.offer() }

func (r *rows) PutEvents(sealed []byte) { r.events = sealed }

// changed reports whether the transaction writes anything.
func (r *rows) changed() bool {
	for _, w := range r.writes {
		if len(w) > 0 {
			return true
		}
	}
	return r.events != nil
}

// txn is the etcd transaction that commits r: its guards, then its writes,
// its stamps and its notifications.
func (r *rows) txn() (cmps []clientv3.Cmp, ops []clientv3.Op) {
	for _, key := range slices.Sorted(maps.Keys(r.guards)) {
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(key), "=", r.guards[key]))
	}
	for _, p := range r.ranges {
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(p), "<", r.snap+1).WithPrefix())
	}
	for b, w := range r.writes {
		for k, v := range w {
			key := r.e.rowKey(keystore.Bucket(b), []byte(k))
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

// rowKey is where row k of bucket b is kept in etcd (doc.go).
func (e *engine) rowKey(b keystore.Bucket, k []byte) string {
	return e.prefix + "b" + string(rune('0'+b)) + "/" + hex.EncodeToString(k)
}

// stampKey is the stamp of the range that starts with prefix in bucket b.
func (e *engine) stampKey(b keystore.Bucket, prefix []byte) string {
	return e.prefix + "s" + string(rune('0'+b)) + "/" + hex.EncodeToString(prefix)
}
