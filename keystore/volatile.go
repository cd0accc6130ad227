//go:build linux

package keystore

import (
	"cmp"
	"maps"
	"slices"
	"strings"
)

// FlagVolatile marks a key that lives in memory only and never reaches the
// file: a process's thread and process keyrings. A link with a volatile end
// is volatile too. Volatile things are not counted in the stored counters
// (Links, DataLen, quota), so a store reopened after any crash is
// consistent without them.
const FlagVolatile uint32 = 1 << 6

// volatileState is one immutable version of the in-memory part of the
// store. A write transaction works on a copy and publishes it when it
// commits; readers take the published one.
type volatileState struct {
	keys    map[uint32]*KeyRecord
	links   map[uint32]map[uint64]uint32 // ring → seq → key
	index   map[string]Link              // volatileIndexKey(ring, hash) → link
	parents map[uint32]map[Parent]bool   // key → links to it
}

func newVolatileState() *volatileState {
	return &volatileState{
		keys:    map[uint32]*KeyRecord{},
		links:   map[uint32]map[uint64]uint32{},
		index:   map[string]Link{},
		parents: map[uint32]map[Parent]bool{},
	}
}

// clone copies v deeply enough that changing the copy's maps leaves v as
// it was. Records are copied on write by PutKey.
func (v *volatileState) clone() *volatileState {
	c := &volatileState{
		keys:    maps.Clone(v.keys),
		links:   make(map[uint32]map[uint64]uint32, len(v.links)),
		index:   maps.Clone(v.index),
		parents: make(map[uint32]map[Parent]bool, len(v.parents)),
	}
	for k, m := range v.links {
		c.links[k] = maps.Clone(m)
	}
	for k, m := range v.parents {
		c.parents[k] = maps.Clone(m)
	}
	return c
}

// volatile returns the state this transaction sees: for a write
// transaction, its private copy (made on first use and published when the
// transaction commits); for a read, the published one.
func (tx *Tx) volatile() *volatileState {
	if !tx.writable() {
		return tx.db.vol.Load()
	}
	// Each engine runs one write transaction at a time (bbolt's all in
	// the committer's goroutine), so the staging fields need no lock.
	if id := tx.id(); tx.db.stagedFor != id {
		staged := tx.db.vol.Load().clone()
		tx.db.stagedFor, tx.db.staged = id, staged
		tx.onVisible(func() { tx.db.vol.Store(staged) })
	}
	return tx.db.staged
}

// IsVolatile reports whether serial is a volatile key.
func (tx *Tx) IsVolatile(serial uint32) bool {
	_, ok := tx.volatile().keys[serial]
	return ok
}

// VolatileRefs is how many volatile links point at serial: holders that
// the stored Links count leaves out.
func (tx *Tx) VolatileRefs(serial uint32) int { return len(tx.volatile().parents[serial]) }

func (v *volatileState) putLink(ring uint32, l Link, h DescHash) {
	if v.links[ring] == nil {
		v.links[ring] = map[uint64]uint32{}
	}
	v.links[ring][l.Seq] = l.Key
	v.index[volatileIndexKey(ring, h)] = l
	if v.parents[l.Key] == nil {
		v.parents[l.Key] = map[Parent]bool{}
	}
	v.parents[l.Key][Parent{Ring: ring, Seq: l.Seq}] = true
}

func (v *volatileState) deleteLink(ring uint32, l Link, h DescHash) {
	delete(v.links[ring], l.Seq)
	if len(v.links[ring]) == 0 {
		delete(v.links, ring)
	}
	delete(v.index, volatileIndexKey(ring, h))
	delete(v.parents[l.Key], Parent{Ring: ring, Seq: l.Seq})
	if len(v.parents[l.Key]) == 0 {
		delete(v.parents, l.Key)
	}
}

// sortedLinks returns a ring's volatile links by position.
func (v *volatileState) sortedLinks(ring uint32) []Link {
	links := make([]Link, 0, len(v.links[ring]))
	for seq, key := range v.links[ring] {
		links = append(links, Link{Seq: seq, Key: key})
	}
	slices.SortFunc(links, func(a, b Link) int { return cmp.Compare(a.Seq, b.Seq) })
	return links
}

// childKeyrings returns the volatile links of ring to keyrings, in no
// particular order (Tx.ChildKeyrings sorts them).
func (v *volatileState) childKeyrings(ring uint32) []Link {
	prefix := string(u32(ring)) + "keyring\x00"
	var links []Link
	for k, l := range v.index {
		if strings.HasPrefix(k, prefix) {
			links = append(links, l)
		}
	}
	return links
}

// IsVolatileLink says whether a link between ring and key lives in memory:
// whether either end does. Such links are not counted in the stored
// Links, DataLen and quota.
func (tx *Tx) IsVolatileLink(ring, key uint32) bool {
	v := tx.volatile()
	_, r := v.keys[ring]
	_, k := v.keys[key]
	return r || k
}

// volatileIndexKey keys the in-memory index: ring serial, type, NUL,
// hash, the order a stored keyring's index has.
func volatileIndexKey(ring uint32, h DescHash) string {
	return string(u32(ring)) + h.Type + "\x00" + string(h.sum[:])
}
