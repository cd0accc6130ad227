package keystore

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Check verifies the whole store: bbolt's own page checks, then every
// invariant of the layout. Every record decodes and its description
// opens, under the row its serial maps to, and its hash is its
// description's; every link, index and parent entry agree and point at
// stored keys; each key's link count is the number of stored links to it,
// and each keyring's tally counts its links; the orphans and expiry
// buckets list exactly the keys they should; every payload opens; each
// owner's charge is the sum of their keys' charges; every name points at
// a stored keyring whose description it is the hash of. It returns all
// problems found, joined.
func (db *DB) Check() error {
	var problems []error
	bad := func(format string, args ...any) {
		problems = append(problems, fmt.Errorf("keystore: check %s: "+format, append([]any{db.path}, args...)...))
	}
	err := db.View(func(tx *Tx) error {
		for err := range tx.btx.Check() {
			bad("bbolt: %v", err)
		}
		rows := tx.bucket(bucketRows)
		serialOf := map[uint32]uint32{} // row → serial of its record
		keys := map[uint32]*KeyRecord{} // serial → record
		usage := map[uint32]Usage{}
		// First the records, so that the other entries can be checked
		// against them.
		rows.ForEach(func(k, v []byte) error {
			if len(k) != 5 || k[4] != tagRecord {
				return nil
			}
			row := binary.BigEndian.Uint32(k)
			r, err := db.sealer.openRecord(v, nil) // not the cache: every description is opened
			if err != nil {
				bad("record at row %d: %v", row, err)
				return nil
			}
			if want := db.sealer.index.desc(r.Type, r.Description); r.sealed.hash != want {
				bad("key %d: the hash beside its sealed description is not the description's", r.Serial)
			}
			if tx.row(r.Serial) != row {
				bad("key %d is stored at row %d, its serial's row is %d", r.Serial, row, tx.row(r.Serial))
				return nil
			}
			if r.IsKeyring() && (r.DataLen != 0 || r.NextSeq != 0 || r.QuotaBytes != 0) {
				bad("keyring %d keeps counts in its record, not its tally", r.Serial)
			}
			full, err := tx.Key(r.Serial)
			if err != nil {
				bad("%v", err)
				return nil
			}
			serialOf[row] = r.Serial
			keys[r.Serial] = full
			if full.Flags&FlagInQuota != 0 {
				u := usage[full.UID]
				u.Keys++
				u.Bytes += full.QuotaBytes
				usage[full.UID] = u
			}
			return nil
		})

		links := map[uint32]uint32{} // key → stored links to it
		contents := map[uint32]int{} // keyring → links it holds
		indexed := map[string]bool{} // index keys the links imply
		rows.ForEach(func(k, v []byte) error {
			if len(k) < 5 {
				bad("row entry %x", k)
				return nil
			}
			row, tag, rest := binary.BigEndian.Uint32(k), k[4], k[5:]
			owner, ok := serialOf[row]
			switch {
			case tag == tagRecord:
				return nil
			case !ok:
				bad("entry %x at row %d, where no key is stored", k, row)
				return nil
			}
			switch tag {
			case tagPayload:
				if len(rest) != 0 {
					bad("payload entry %x", k)
				}
			case tagLink:
				if len(rest) != 8 {
					bad("link entry %x", k)
					return nil
				}
				seq := binary.BigEndian.Uint64(rest)
				rr := keys[owner]
				if !rr.IsKeyring() {
					bad("link %d/%d from %d, not a keyring", owner, seq, owner)
					return nil
				}
				if seq == tallySeq {
					return nil // Key read it
				}
				if len(v) != 4 {
					bad("link %d/%d → %x", owner, seq, v)
					return nil
				}
				child := binary.BigEndian.Uint32(v)
				cr := keys[child]
				if cr == nil {
					bad("keyring %d links %d, which is not stored", owner, child)
					return nil
				}
				if seq >= rr.NextSeq {
					bad("keyring %d has a link at %d, past its next position %d", owner, seq, rr.NextSeq)
				}
				h := db.sealer.index.desc(cr.Type, cr.Description)
				ik := string(indexKey(row, h))
				if indexed[ik] {
					bad("keyring %d links two keys of type %q description %q", owner, cr.Type, cr.Description)
				}
				indexed[ik] = true
				if l, ok := tx.Lookup(owner, h); !ok || l.Key != child || l.Seq != seq {
					bad("keyring %d: index disagrees with link %d → %d", owner, seq, child)
				}
				if rows.Get(parentKey(tx.row(child), owner, seq)) == nil {
					bad("link %d/%d → %d has no parent entry", owner, seq, child)
				}
				links[child]++
				contents[owner]++
			case tagIndex:
				// Checked once all links are known, below.
			case tagParent:
				if len(rest) != 12 {
					bad("parent entry %x", k)
					return nil
				}
				ring, seq := binary.BigEndian.Uint32(rest), binary.BigEndian.Uint64(rest[4:])
				child := rows.Get(linkKey(tx.row(ring), seq))
				if len(child) != 4 || binary.BigEndian.Uint32(child) != owner {
					bad("parent entry of %d, link %d/%d, matches no link", owner, ring, seq)
				}
			default:
				bad("entry %x has an unknown tag", k)
			}
			return nil
		})
		rows.ForEach(func(k, v []byte) error {
			if len(k) >= 5 && k[4] == tagIndex && !indexed[string(k)] {
				bad("index entry %q has no link", k)
			}
			return nil
		})

		for serial, r := range keys {
			if r.Links != links[serial] {
				bad("key %d counts %d links, %d are stored", serial, r.Links, links[serial])
			}
			if r.IsKeyring() && r.DataLen != uint32(contents[serial]) {
				bad("keyring %d says it holds %d keys, %d are stored", serial, r.DataLen, contents[serial])
			}
			if orphan := tx.bucket(bucketOrphans).Get(u32(serial)) != nil; orphan == r.Held() {
				bad("key %d: orphan entry %t, but links %d pins %d", serial, orphan, r.Links, r.Pins)
			}
			if r.Expiry != 0 && tx.bucket(bucketExpiry).Get(expiryKey(r.Expiry, serial)) == nil {
				bad("key %d expires but has no expiry entry", serial)
			}
			if _, err := tx.Payload(r); err != nil {
				bad("key %d: %v", serial, err)
			}
		}
		tx.bucket(bucketOrphans).ForEach(func(k, v []byte) error {
			if len(k) != 4 || keys[binary.BigEndian.Uint32(k)] == nil {
				bad("orphan entry %x is no key", k)
			}
			return nil
		})
		tx.bucket(bucketExpiry).ForEach(func(k, v []byte) error {
			if len(k) != 12 {
				bad("expiry entry %x", k)
				return nil
			}
			if r := keys[binary.BigEndian.Uint32(k[8:])]; r == nil || r.Expiry != int64(binary.BigEndian.Uint64(k)) {
				bad("expiry entry %x matches no key", k)
			}
			return nil
		})
		tx.bucket(bucketNames).ForEach(func(k, v []byte) error {
			if len(k) != 1+descHashLen || len(v) != 4 {
				bad("name entry %x → %x", k, v)
				return nil
			}
			r := keys[binary.BigEndian.Uint32(v)]
			if r == nil {
				bad("name entry %x names no stored key", k)
				return nil
			}
			kind := NameKind(k[0])
			if name, ok := registeredName(kind, r.Description); !ok || string(tx.nameKey(kind, name)) != string(k) {
				bad("name entry %x names keyring %d, whose description %q it is not the hash of", k, r.Serial, r.Description)
			}
			return nil
		})
		tx.bucket(bucketQuota).ForEach(func(k, v []byte) error {
			if len(k) != 4 {
				bad("quota entry %x", k)
				return nil
			}
			uid := binary.BigEndian.Uint32(k)
			if got := tx.Quota(uid); got != usage[uid] {
				bad("uid %d is charged %+v, its keys add up to %+v", uid, got, usage[uid])
			}
			delete(usage, uid)
			return nil
		})
		for uid, u := range usage {
			bad("uid %d owns keys worth %+v but is charged nothing", uid, u)
		}
		return nil
	})
	if err != nil {
		problems = append(problems, err)
	}
	return errors.Join(problems...)
}
