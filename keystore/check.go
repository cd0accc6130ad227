//go:build linux

package keystore

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/keyctl-go/keyctl-go/keystore/internal/journal"
)

// Check verifies the whole store: bbolt's own page checks, then every
// invariant of the layout, one pass each (checkPasses), as bbolt's
// tx_check.go does. It returns all problems found, joined, each naming
// the store.
func (db *DB) Check() error {
	var problems []error
	err := db.View(func(tx *Tx) error {
		c := &checker{
			tx:       tx,
			serialOf: map[uint32]uint32{},
			keys:     map[uint32]*KeyRecord{},
			usage:    map[uint32]Usage{},
			links:    map[uint32]uint32{},
			contents: map[uint32]int{},
			indexed:  map[string]bool{},
		}
		c.bad = func(format string, args ...any) {
			problems = append(problems, fmt.Errorf("keystore: check %s: "+format, append([]any{db.path}, args...)...))
		}
		for _, pass := range checkPasses {
			pass(c)
		}
		return nil
	})
	if err != nil {
		problems = append(problems, err)
	}
	return errors.Join(problems...)
}

// checkPasses are Check's passes, in order: each may rely on what the
// passes before it gathered in the checker.
var checkPasses = []func(*checker){
	(*checker).checkBolt,
	(*checker).checkMeta,
	(*checker).checkRecords,
	(*checker).checkRowEntries,
	(*checker).checkIndexEntries,
	(*checker).checkKeyCounts,
	(*checker).checkOrphans,
	(*checker).checkExpiries,
	(*checker).checkNames,
	(*checker).checkQuota,
}

// checker is what Check's passes share: the transaction, where problems
// go, and what one pass learns for the ones after it.
type checker struct {
	tx  *Tx
	bad func(format string, args ...any)

	serialOf map[uint32]uint32     // row → serial of its record (checkRecords)
	keys     map[uint32]*KeyRecord // serial → record, counts from its tally
	usage    map[uint32]Usage      // uid → what its keys in quota add up to
	links    map[uint32]uint32     // key → stored links to it (checkRowEntries)
	contents map[uint32]int        // keyring → links it holds
	indexed  map[string]bool       // index keys the links imply
}

// checkBolt: bbolt's own invariants hold (page types, no page reachable
// twice, the freelist, key order).
func (c *checker) checkBolt() {
	if !c.tx.onFile() {
		return // the engine keeps its own pages
	}
	for err := range c.tx.bolt.btx.Check() {
		c.bad("bbolt: %v", err)
	}
}

// checkMeta: the store is at SchemaVersion and has a UUID.
func (c *checker) checkMeta() {
	if v, err := schemaVersionOf(c.tx.get(idMeta, metaSchema)); err != nil || v != SchemaVersion {
		c.bad("schema version %d (%v), want %d", v, err, SchemaVersion)
	}
	if v := c.tx.get(idMeta, metaUUID); len(v) != len(uuid.UUID{}) || uuid.UUID(v) == uuid.Nil {
		c.bad("the store's UUID is %x", v)
	}
}

// checkRecords: every record decodes and its description opens; the hash
// beside it is its description's; it is stored under the row its serial
// maps to; a keyring keeps its counts in its tally, not its record. It
// gathers the records and each owner's charges for the passes after it.
func (c *checker) checkRecords() {
	tx, s := c.tx, c.tx.db.sealer
	tx.forEach(idRows, func(k, v []byte) error {
		if len(k) != 5 || k[4] != tagRecord {
			return nil
		}
		row := binary.BigEndian.Uint32(k)
		r, err := s.openRecord(v, nil) // not the cache: every description is opened
		if err != nil {
			c.bad("record at row %d: %v", row, err)
			return nil
		}
		if want := s.index.desc(r.Type, r.Description); r.sealed.hash != want {
			c.bad("key %d: the hash beside its sealed description is not the description's", r.Serial)
		}
		if tx.row(r.Serial) != row {
			c.bad("key %d is stored at row %d, its serial's row is %d", r.Serial, row, tx.row(r.Serial))
			return nil
		}
		if r.IsKeyring() && (r.DataLen != 0 || r.NextSeq != 0 || r.QuotaBytes != 0) {
			c.bad("keyring %d keeps counts in its record, not its tally", r.Serial)
		}
		full, err := tx.Key(r.Serial)
		if err != nil {
			c.bad("%v", err)
			return nil
		}
		c.serialOf[row] = r.Serial
		c.keys[r.Serial] = full
		if full.Flags&FlagInQuota != 0 {
			u := c.usage[full.UID]
			u.Keys++
			u.Bytes += full.QuotaBytes
			c.usage[full.UID] = u
		}
		return nil
	})
}

// checkRowEntries: every entry of the rows bucket is at the row of a
// stored key and has a known tag; payload entries are well formed; every
// link is from a keyring, below its next position, to a stored key, which
// the index finds there and which has a parent entry for it, and no
// keyring links two keys of one type and description; every parent entry
// matches a link. It counts the links for checkKeyCounts.
func (c *checker) checkRowEntries() {
	c.tx.forEach(idRows, func(k, v []byte) error {
		if len(k) < 5 {
			c.bad("row entry %x", k)
			return nil
		}
		row, tag, rest := binary.BigEndian.Uint32(k), k[4], k[5:]
		owner, ok := c.serialOf[row]
		switch {
		case tag == tagRecord:
			return nil
		case !ok:
			c.bad("entry %x at row %d, where no key is stored", k, row)
			return nil
		}
		switch tag {
		case tagPayload:
			if len(rest) != 0 {
				c.bad("payload entry %x", k)
			}
		case tagLink:
			c.checkLink(k, v, row, owner, rest)
		case tagIndex:
			// checkIndexEntries, once every link is known.
		case tagParent:
			c.checkParent(k, owner, rest)
		default:
			c.bad("entry %x has an unknown tag", k)
		}
		return nil
	})
}

// checkLink checks the link entry k → v at keyring owner's row.
func (c *checker) checkLink(k, v []byte, row, owner uint32, rest []byte) {
	tx := c.tx
	if len(rest) != 8 {
		c.bad("link entry %x", k)
		return
	}
	seq := binary.BigEndian.Uint64(rest)
	rr := c.keys[owner]
	if !rr.IsKeyring() {
		c.bad("link %d/%d from %d, not a keyring", owner, seq, owner)
		return
	}
	if seq == tallySeq {
		return // Key read it
	}
	if len(v) != 4 {
		c.bad("link %d/%d → %x", owner, seq, v)
		return
	}
	child := binary.BigEndian.Uint32(v)
	cr := c.keys[child]
	if cr == nil {
		c.bad("keyring %d links %d, which is not stored", owner, child)
		return
	}
	if seq >= rr.NextSeq {
		c.bad("keyring %d has a link at %d, past its next position %d", owner, seq, rr.NextSeq)
	}
	h := tx.db.sealer.index.desc(cr.Type, cr.Description)
	ik := string(indexKey(row, h))
	if c.indexed[ik] {
		c.bad("keyring %d links two keys of type %q description %q", owner, cr.Type, cr.Description)
	}
	c.indexed[ik] = true
	if l, ok := tx.Lookup(owner, h); !ok || l.Key != child || l.Seq != seq {
		c.bad("keyring %d: index disagrees with link %d → %d", owner, seq, child)
	}
	if tx.get(idRows, parentKey(tx.row(child), owner, seq)) == nil {
		c.bad("link %d/%d → %d has no parent entry", owner, seq, child)
	}
	c.links[child]++
	c.contents[owner]++
}

// checkParent checks the parent entry k at key owner's row.
func (c *checker) checkParent(k []byte, owner uint32, rest []byte) {
	if len(rest) != 12 {
		c.bad("parent entry %x", k)
		return
	}
	ring, seq := binary.BigEndian.Uint32(rest), binary.BigEndian.Uint64(rest[4:])
	child := c.tx.get(idRows, linkKey(c.tx.row(ring), seq))
	if len(child) != 4 || binary.BigEndian.Uint32(child) != owner {
		c.bad("parent entry of %d, link %d/%d, matches no link", owner, ring, seq)
	}
}

// checkIndexEntries: every index entry is one a link implies.
func (c *checker) checkIndexEntries() {
	c.tx.forEach(idRows, func(k, v []byte) error {
		if len(k) >= 5 && k[4] == tagIndex && !c.indexed[string(k)] {
			c.bad("index entry %q has no link", k)
		}
		return nil
	})
}

// checkKeyCounts: each key's link count is the number of stored links to
// it, and each keyring's tally the number of links it holds; a key is an
// orphan exactly when nothing holds it; a key that expires has its expiry
// entry; every payload opens.
func (c *checker) checkKeyCounts() {
	tx := c.tx
	for serial, r := range c.keys {
		if r.Links != c.links[serial] {
			c.bad("key %d counts %d links, %d are stored", serial, r.Links, c.links[serial])
		}
		if r.IsKeyring() && r.DataLen != uint32(c.contents[serial]) {
			c.bad("keyring %d says it holds %d keys, %d are stored", serial, r.DataLen, c.contents[serial])
		}
		if orphan := tx.get(idOrphans, u32(serial)) != nil; orphan == r.Held() {
			c.bad("key %d: orphan entry %t, but links %d pins %d", serial, orphan, r.Links, r.Pins)
		}
		if r.Expiry != 0 && tx.get(idExpiry, expiryKey(r.Expiry, serial)) == nil {
			c.bad("key %d expires but has no expiry entry", serial)
		}
		if _, err := tx.Payload(r); err != nil {
			c.bad("key %d: %v", serial, err)
		}
	}
}

// checkOrphans: every orphan entry is a stored key.
func (c *checker) checkOrphans() {
	c.tx.forEach(idOrphans, func(k, v []byte) error {
		if len(k) != 4 || c.keys[binary.BigEndian.Uint32(k)] == nil {
			c.bad("orphan entry %x is no key", k)
		}
		return nil
	})
}

// checkExpiries: every expiry entry is a stored key's, at its expiry.
func (c *checker) checkExpiries() {
	c.tx.forEach(idExpiry, func(k, v []byte) error {
		if len(k) != 12 {
			c.bad("expiry entry %x", k)
			return nil
		}
		if r := c.keys[binary.BigEndian.Uint32(k[8:])]; r == nil || r.Expiry != int64(binary.BigEndian.Uint64(k)) {
			c.bad("expiry entry %x matches no key", k)
		}
		return nil
	})
}

// checkNames: every name points at a stored keyring whose description it
// is the hash of.
func (c *checker) checkNames() {
	tx := c.tx
	tx.forEach(idNames, func(k, v []byte) error {
		if len(k) != 1+descHashLen || len(v) != 4 {
			c.bad("name entry %x → %x", k, v)
			return nil
		}
		r := c.keys[binary.BigEndian.Uint32(v)]
		if r == nil {
			c.bad("name entry %x names no stored key", k)
			return nil
		}
		kind := NameKind(k[0])
		if name, ok := registeredName(kind, r.Description); !ok || string(tx.nameKey(kind, name)) != string(k) {
			c.bad("name entry %x names keyring %d, whose description %q it is not the hash of", k, r.Serial, r.Description)
		}
		return nil
	})
}

// checkQuota: each owner's charge is the sum of their keys' charges, and
// every owner of keys in quota is charged.
func (c *checker) checkQuota() {
	charged := map[uint32]bool{}
	c.tx.forEach(idQuota, func(k, v []byte) error {
		if len(k) != 4 {
			c.bad("quota entry %x", k)
			return nil
		}
		uid := binary.BigEndian.Uint32(k)
		if got := c.tx.Quota(uid); got != c.usage[uid] {
			c.bad("uid %d is charged %+v, its keys add up to %+v", uid, got, c.usage[uid])
		}
		charged[uid] = true
		return nil
	})
	for uid, u := range c.usage {
		if !charged[uid] {
			c.bad("uid %d owns keys worth %+v but is charged nothing", uid, u)
		}
	}
}

// forEach calls fn for each entry of bucket b, in key order, as bbolt's
// Bucket.ForEach does; fn's error is ignored, as the passes return none.
func (tx *Tx) forEach(b journal.BucketID, fn func(k, v []byte) error) {
	c := tx.cursor(b)
	for k, v := c.Seek(nil); k != nil; k, v = c.Next() {
		fn(k, v)
	}
}
