//go:build linux

package keystore

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"iter"
	"slices"
	"strings"
)

// Tx is a transaction over the store's buckets, in the store's own terms:
// key records, sealed payloads, keyring links, names and quota. It keeps the
// derived buckets (orphans, expiry, index) in step with what it is told.
// It knows nothing of the rules of keys; package keyring does.
type Tx struct {
	db *DB
	// bolt is the file's transaction (rows.go), kept in the Tx so that a
	// transaction costs one allocation; its btx is nil on an Engine.
	bolt boltRows
	// rows is an Engine's transaction; nil on the file. write says it is
	// Update's; visible and durable are what runs once it commits.
	rows             Rows
	write            bool
	visible, durable []func()
	// lastHash is the last DescHash computed, with the description it
	// is of: an add looks its key up, then stores it, with the same
	// strings, and hashes once.
	lastHash     DescHash
	lastHashDesc string
}

// Revision is the store's revision: on a file, how many changes it has
// committed; on an Engine, the engine's revision of the rows the
// transaction sees (etcd's counts the changes to other keys in etcd too,
// so it grows in steps).
func (tx *Tx) Revision() uint64 {
	if tx.onFile() {
		return tx.bolt.revision()
	}
	return tx.rows.Revision()
}

// NextRevision counts one more change and returns its revision. On an
// Engine the revision is the engine's, known only once the commit is
// made: it returns 0, and the change feed (OnChange) carries the revision.
func (tx *Tx) NextRevision() (uint64, error) {
	// The change record read the revision when the transaction first
	// touched something, and keeps it current: no second read.
	ch := tx.changes()
	if !tx.onFile() {
		return 0, nil
	}
	rev := ch.Revision + 1
	ch.Revision = rev
	return rev, tx.bolt.countRevision(rev)
}

// Row keys: every entry about a key starts with its row and a tag.
const (
	tagRecord  = 'k' // the KeyRecord
	tagLink    = 'l' // a keyring's links, by position, then its tally
	tagPayload = 'p' // the sealed payload
	tagParent  = 'u' // links to the key, by keyring and position
	tagIndex   = 'x' // a keyring's links, by type and description
)

// tallySeq is the position of a keyring's tally among its links: after
// any link it will ever hold.
const tallySeq = ^uint64(0)

func rowKey(row uint32, tag byte) []byte {
	return append(binary.BigEndian.AppendUint32(make([]byte, 0, 16), row), tag)
}

func linkKey(ringRow uint32, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(rowKey(ringRow, tagLink), seq)
}

func tallyKey(ringRow uint32) []byte { return linkKey(ringRow, tallySeq) }

func indexKey(ringRow uint32, h DescHash) []byte {
	k := append(rowKey(ringRow, tagIndex), h.Type...)
	k = append(k, 0)
	return append(k, h.sum[:]...)
}

// indexPrefix is where the index entries of keys of type typ start.
func indexPrefix(ringRow uint32, typ string) []byte {
	return append(append(rowKey(ringRow, tagIndex), typ...), 0)
}

// DescHash is the hash that keyrings' indexes know a key of type typ and
// description desc by.
func (tx *Tx) DescHash(typ, desc string) DescHash {
	if h := tx.hashed(typ, desc); h != nil {
		return *h
	}
	h := tx.db.sealer.index.desc(typ, desc)
	tx.lastHash, tx.lastHashDesc = h, desc
	return h
}

// hashed is the DescHash of typ and desc if it is the last one computed,
// else nil.
func (tx *Tx) hashed(typ, desc string) *DescHash {
	// Equal strings that share their bytes compare in constant time.
	if tx.lastHash.Type == typ && tx.lastHashDesc == desc && tx.lastHash != (DescHash{}) {
		return &tx.lastHash
	}
	return nil
}

// RecordHash is DescHash(r.Type, r.Description), without computing it
// again for a record read by Key or stored by PutKey since.
func (tx *Tx) RecordHash(r *KeyRecord) DescHash {
	if p := r.sealed; p != nil && p.hash.Type == r.Type && p.description == r.Description {
		return p.hash
	}
	return tx.DescHash(r.Type, r.Description)
}

func parentKey(keyRow, ring uint32, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint32(rowKey(keyRow, tagParent), ring), seq)
}

// row is where serial's entries are kept; 0, where nothing is, for a
// serial out of range.
func (tx *Tx) row(serial uint32) uint32 {
	if !inSerialRange(serial) {
		return 0
	}
	return tx.db.perm.row(serial)
}

// splitKeyring separates what a keyring's record keeps from what its
// tally keeps: the record as stored (DataLen, NextSeq and QuotaBytes zero,
// so that adding a link leaves it alone), and the tally's bytes. Other keys
// are stored whole and have no tally.
func splitKeyring(r *KeyRecord) (*KeyRecord, []byte) {
	if !r.IsKeyring() {
		return r, nil
	}
	stored := *r
	stored.DataLen, stored.NextSeq, stored.QuotaBytes = 0, 0, 0
	tally := binary.BigEndian.AppendUint32(u32(r.DataLen), r.QuotaBytes)
	return &stored, binary.BigEndian.AppendUint64(tally, r.NextSeq)
}

// tallyLen is the length of a keyring's tally: u32 links, u32 quota
// bytes, u64 next position.
const tallyLen = 16

// NewSerial allocates a serial for a new key: the serial of the next free
// row, which looks as random as the kernel's and is never one in use.
func (tx *Tx) NewSerial() (uint32, error) {
	for {
		row, err := tx.offerRow()
		if err != nil {
			return 0, err
		}
		serial := tx.db.perm.serial(row)
		if tx.getRow(rowKey(row, tagRecord)) != nil || tx.IsVolatile(serial) {
			continue
		}
		if tx.onFile() {
			return serial, tx.bolt.tookRow(row)
		}
		return serial, nil
	}
}

// offerRow offers a row for a new key: the file's next, or the Engine's.
func (tx *Tx) offerRow() (uint32, error) {
	if tx.onFile() {
		return tx.bolt.offerRow(), nil
	}
	return tx.rows.NewRow()
}

// Key returns the record of serial, or nil if there is none. The record
// is the caller's to change.
func (tx *Tx) Key(serial uint32) (*KeyRecord, error) {
	row := tx.row(serial)
	v := tx.getRow(rowKey(row, tagRecord))
	if v == nil {
		if r, ok := tx.volatile().keys[serial]; ok {
			c := *r
			return &c, nil
		}
		return nil, nil
	}
	r, err := tx.db.openRecord(v)
	if err != nil {
		return nil, fmt.Errorf("keystore: key %d: %w", serial, err)
	}
	if r.Serial != serial {
		return nil, fmt.Errorf("keystore: key %d: record says serial %d: %w", serial, r.Serial, ErrCorrupt)
	}
	if r.IsKeyring() {
		t := tx.getRow(tallyKey(row))
		if len(t) != tallyLen {
			return nil, fmt.Errorf("keystore: keyring %d: tally of %d bytes: %w", serial, len(t), ErrCorrupt)
		}
		r.DataLen, r.QuotaBytes, r.NextSeq = binary.BigEndian.Uint32(t), binary.BigEndian.Uint32(t[4:]), binary.BigEndian.Uint64(t[8:])
	}
	return r, nil
}

// HasKey reports whether serial is in use.
func (tx *Tx) HasKey(serial uint32) bool {
	return tx.getRow(rowKey(tx.row(serial), tagRecord)) != nil || tx.IsVolatile(serial)
}

// PutKey stores r, replacing what was stored under its serial, and keeps
// the orphans and expiry buckets in step with it. A record flagged
// FlagVolatile is kept in memory instead. What has not changed is not
// written: every write dirties a page that the commit must sync.
func (tx *Tx) PutKey(r *KeyRecord) error {
	tx.touchKey(r.Serial)
	if r.Flags&FlagVolatile != 0 {
		c := *r
		tx.volatile().keys[r.Serial] = &c
		tx.touchGraph()
		return nil
	}
	row := tx.row(r.Serial)
	if row == 0 {
		return corrupt("key serial %d outside %d..%d", r.Serial, MinSerial, MaxSerial)
	}
	stored, tally := splitKeyring(r)
	if tally != nil {
		if tk := tallyKey(row); !bytes.Equal(tx.getRow(tk), tally) {
			if err := tx.put(idRows, tk, tally); err != nil {
				return err
			}
		}
	}
	b, sealed, err := tx.db.sealer.sealRecord(stored, tx.hashed(r.Type, r.Description))
	if err != nil {
		return err
	}
	r.sealed = sealed
	tx.db.rememberSealed(sealed)
	rk := rowKey(row, tagRecord)
	oldRaw := tx.getRow(rk)
	if bytes.Equal(oldRaw, b) {
		return nil // nothing the record, the orphans or the expiry hold changed
	}
	var old *KeyRecord
	var oldHash DescHash
	if oldRaw != nil {
		// The clear part is enough: the hash stands for the description.
		if old, oldHash, _, err = parseRecord(oldRaw); err != nil {
			return fmt.Errorf("keystore: key %d: %w", r.Serial, err)
		}
	}
	if old == nil || old.Type != r.Type || old.UID != r.UID || old.GID != r.GID || old.Perm != r.Perm ||
		old.Flags != r.Flags || old.Expiry != r.Expiry || oldHash != sealed.hash {
		tx.touchGraph()
	}
	if err := tx.put(idRows, rk, b); err != nil {
		return err
	}
	if old != nil && old.Expiry != 0 && old.Expiry != r.Expiry {
		if err := tx.del(idExpiry, expiryKey(old.Expiry, r.Serial)); err != nil {
			return err
		}
	}
	if r.Expiry != 0 && (old == nil || old.Expiry != r.Expiry) {
		if err := tx.put(idExpiry, expiryKey(r.Expiry, r.Serial), nil); err != nil {
			return err
		}
	}
	if old != nil && old.Held() == r.Held() || old == nil && r.Held() {
		return nil // orphans lists stored keys only: a new key is in it only if unheld
	}
	if r.Held() {
		return tx.del(idOrphans, u32(r.Serial))
	}
	return tx.put(idOrphans, u32(r.Serial), nil)
}

// DeleteKey removes r with its payload and its derived entries. The caller
// has removed its links and, if it is a keyring, its contents.
func (tx *Tx) DeleteKey(r *KeyRecord) error {
	tx.touchKey(r.Serial)
	tx.touchGraph()
	if r.Flags&FlagVolatile != 0 {
		delete(tx.volatile().keys, r.Serial)
		return nil
	}
	tx.db.forgetSealed(r.Serial)
	row := tx.row(r.Serial)
	for _, k := range [][]byte{rowKey(row, tagRecord), rowKey(row, tagPayload), tallyKey(row)} {
		if err := tx.del(idRows, k); err != nil {
			return err
		}
	}
	if err := tx.del(idOrphans, u32(r.Serial)); err != nil {
		return err
	}
	if r.Expiry != 0 {
		return tx.del(idExpiry, expiryKey(r.Expiry, r.Serial))
	}
	return nil
}

func expiryKey(at int64, serial uint32) []byte {
	return binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint64(nil, uint64(at)), serial)
}

// Orphans yields the serials of keys that nothing stored holds.
func (tx *Tx) Orphans() iter.Seq[uint32] {
	return func(yield func(uint32) bool) {
		c := tx.cursor(idOrphans)
		for k, _ := c.Seek(nil); k != nil; k, _ = c.Next() {
			if len(k) == 4 && !yield(binary.BigEndian.Uint32(k)) {
				return
			}
		}
	}
}

// ExpiringBefore yields the serials of keys whose expiry (or revocation
// time) is before t, in Unix nanoseconds, earliest first.
func (tx *Tx) ExpiringBefore(t int64) iter.Seq[uint32] {
	return func(yield func(uint32) bool) {
		c := tx.cursor(idExpiry)
		for k, _ := c.Seek(nil); len(k) == 12; k, _ = c.Next() {
			if int64(binary.BigEndian.Uint64(k)) >= t || !yield(binary.BigEndian.Uint32(k[8:])) {
				return
			}
		}
	}
}

// EarliestExpiry is the earliest expiry (or revocation time) of any key,
// in Unix nanoseconds.
func (tx *Tx) EarliestExpiry() (int64, bool) {
	k, _ := tx.cursor(idExpiry).Seek(nil)
	if len(k) != 12 {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(k)), true
}

// payloadBinding ties a sealed payload to its key: moved under another
// serial, or read as another type, it fails to open.
func payloadBinding(r *KeyRecord) []byte {
	return append(binary.BigEndian.AppendUint32([]byte("payload\x00"), r.Serial), r.Type...)
}

// Payload opens r's payload; nil if it has none.
func (tx *Tx) Payload(r *KeyRecord) ([]byte, error) {
	sealed := tx.getRow(rowKey(tx.row(r.Serial), tagPayload))
	if sealed == nil {
		return nil, nil
	}
	p, err := tx.db.sealer.Open(nil, sealed, payloadBinding(r))
	if err != nil {
		return nil, fmt.Errorf("keystore: payload of key %d: %w", r.Serial, err)
	}
	return p, nil
}

// PutPayload seals p as r's payload; an empty p removes it.
func (tx *Tx) PutPayload(r *KeyRecord, p []byte) error {
	tx.touchKey(r.Serial)
	k := rowKey(tx.row(r.Serial), tagPayload)
	if len(p) == 0 {
		return tx.del(idRows, k)
	}
	return tx.put(idRows, k, tx.db.sealer.Seal(nil, p, payloadBinding(r)))
}

// Link is one entry of a keyring: the key, at its position.
type Link struct {
	Seq uint64
	Key uint32
}

// Links yields a keyring's links in insertion order, stored and volatile
// together.
func (tx *Tx) Links(ring uint32) iter.Seq[Link] {
	return func(yield func(Link) bool) {
		mem := tx.volatile().sortedLinks(ring)
		prefix := rowKey(tx.row(ring), tagLink)
		c := tx.cursor(idRows)
		for k, v := seek(c, prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if len(k) != len(prefix)+8 || len(v) != 4 {
				continue // the tally
			}
			l := Link{Seq: binary.BigEndian.Uint64(k[len(prefix):]), Key: binary.BigEndian.Uint32(v)}
			for len(mem) > 0 && mem[0].Seq < l.Seq {
				if !yield(mem[0]) {
					return
				}
				mem = mem[1:]
			}
			if !yield(l) {
				return
			}
		}
		for _, l := range mem {
			if !yield(l) {
				return
			}
		}
	}
}

// Lookup finds the key linked in ring whose type and description hash to
// h (Tx.DescHash).
func (tx *Tx) Lookup(ring uint32, h DescHash) (Link, bool) {
	v := tx.getRow(indexKey(tx.row(ring), h))
	if len(v) != 12 {
		l, ok := tx.volatile().index[volatileIndexKey(ring, h)]
		return l, ok
	}
	return Link{Seq: binary.BigEndian.Uint64(v), Key: binary.BigEndian.Uint32(v[8:])}, true
}

// ChildKeyrings yields the keyrings linked in ring in the order they were
// linked, as Links yields them, stored and volatile together. The index
// keeps a keyring's child keyrings together, so this costs what they
// cost, however many other keys ring holds; they are sorted by position
// because the index orders them by DescHash, which differs from store to
// store, and a search must descend in an order a user can predict (the
// kernel's, its own hash's, is fixed for given names).
func (tx *Tx) ChildKeyrings(ring uint32) iter.Seq[Link] {
	return func(yield func(Link) bool) {
		prefix := indexPrefix(tx.row(ring), "keyring")
		var links []Link
		c := tx.cursor(idRows)
		for k, v := seek(c, prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if len(v) == 12 {
				links = append(links, Link{Seq: binary.BigEndian.Uint64(v), Key: binary.BigEndian.Uint32(v[8:])})
			}
		}
		links = append(links, tx.volatile().childKeyrings(ring)...)
		slices.SortFunc(links, func(a, b Link) int { return cmp.Compare(a.Seq, b.Seq) })
		for _, l := range links {
			if !yield(l) {
				return
			}
		}
	}
}

// Parent is a link to a key: the keyring holding it, at its position.
type Parent struct {
	Ring uint32
	Seq  uint64
}

// Parents yields the links to key, keyring by keyring.
func (tx *Tx) Parents(key uint32) iter.Seq[Parent] {
	return func(yield func(Parent) bool) {
		prefix := rowKey(tx.row(key), tagParent)
		c := tx.cursor(idRows)
		for k, _ := seek(c, prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			n := len(prefix)
			if len(k) == n+12 && !yield(Parent{Ring: binary.BigEndian.Uint32(k[n:]), Seq: binary.BigEndian.Uint64(k[n+4:])}) {
				return
			}
		}
		for p := range tx.volatile().parents[key] {
			if !yield(p) {
				return
			}
		}
	}
}

// PutLink links key l.Key into ring at l.Seq; h is the key's DescHash
// (RecordHash). The caller has removed any link of the same type and
// description. A link with a volatile end (IsVolatileLink) is kept in
// memory.
func (tx *Tx) PutLink(ring uint32, l Link, h DescHash) error {
	tx.touchKey(ring)
	tx.touchGraph()
	if tx.IsVolatileLink(ring, l.Key) {
		tx.volatile().putLink(ring, l, h)
		return nil
	}
	ringRow := tx.row(ring)
	if err := tx.put(idRows, linkKey(ringRow, l.Seq), u32(l.Key)); err != nil {
		return err
	}
	if err := tx.put(idRows, parentKey(tx.row(l.Key), ring, l.Seq), nil); err != nil {
		return err
	}
	v := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint64(nil, l.Seq), l.Key)
	return tx.put(idRows, indexKey(ringRow, h), v)
}

// DeleteLink removes the link l from ring; h is the linked key's
// DescHash.
func (tx *Tx) DeleteLink(ring uint32, l Link, h DescHash) error {
	tx.touchKey(ring)
	tx.touchGraph()
	if tx.IsVolatileLink(ring, l.Key) {
		tx.volatile().deleteLink(ring, l, h)
		return nil
	}
	ringRow := tx.row(ring)
	if err := tx.del(idRows, linkKey(ringRow, l.Seq)); err != nil {
		return err
	}
	if err := tx.del(idRows, parentKey(tx.row(l.Key), ring, l.Seq)); err != nil {
		return err
	}
	return tx.del(idRows, indexKey(ringRow, h))
}

// NameKind is a namespace of registered keyrings.
type NameKind byte

// Namespaces of registered keyrings. The names of the first three are
// uids (N), and the keyring registered under one is described as the
// comment says; a named session keyring is described by its name.
const (
	NameUser        NameKind = 'u' // _uid.N
	NameUserSession NameKind = 's' // _uid_ses.N
	NamePersistent  NameKind = 'p' // _persistent.N
	NameSession     NameKind = 'n' // named session keyrings, by name
)

// registeredName is the name under which a keyring described desc is
// registered as kind (see NameKind), if its description has that kind's
// form.
func registeredName(kind NameKind, desc string) (string, bool) {
	switch kind {
	case NameUser:
		return strings.CutPrefix(desc, "_uid.")
	case NameUserSession:
		return strings.CutPrefix(desc, "_uid_ses.")
	case NamePersistent:
		return strings.CutPrefix(desc, "_persistent.")
	case NameSession:
		return desc, true
	}
	return "", false
}

// nameKey is where a name is registered: its kind, then its keyed hash,
// so that the file holds no name (a named session's may say what it is
// for).
func (tx *Tx) nameKey(kind NameKind, name string) []byte {
	sum := tx.db.sealer.index.name(kind, name)
	return append([]byte{byte(kind)}, sum[:]...)
}

// Name returns the serial registered under name, or 0.
func (tx *Tx) Name(kind NameKind, name string) uint32 {
	v := tx.get(idNames, tx.nameKey(kind, name))
	if len(v) != 4 {
		return 0
	}
	return binary.BigEndian.Uint32(v)
}

// PutName registers serial under name.
func (tx *Tx) PutName(kind NameKind, name string, serial uint32) error {
	tx.touchGraph()
	return tx.put(idNames, tx.nameKey(kind, name), u32(serial))
}

// DeleteName removes a registration.
func (tx *Tx) DeleteName(kind NameKind, name string) error {
	tx.touchGraph()
	return tx.del(idNames, tx.nameKey(kind, name))
}

// Usage is what an owner is charged: keys and bytes.
type Usage struct {
	Keys  uint32
	Bytes uint32
}

// Quota returns what uid is charged.
func (tx *Tx) Quota(uid uint32) Usage {
	v := tx.get(idQuota, u32(uid))
	if len(v) != 8 {
		return Usage{}
	}
	return Usage{Keys: binary.BigEndian.Uint32(v), Bytes: binary.BigEndian.Uint32(v[4:])}
}

// PutQuota records what uid is charged.
func (tx *Tx) PutQuota(uid uint32, u Usage) error {
	if u == (Usage{}) {
		return tx.del(idQuota, u32(uid))
	}
	return tx.put(idQuota, u32(uid), binary.BigEndian.AppendUint32(u32(u.Keys), u.Bytes))
}
