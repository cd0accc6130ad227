package keystore

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Check verifies the whole store: bbolt's own page checks, then every
// invariant between the buckets. Every record decodes, under the serial it
// names; every link and index entry agree and point at stored keys; each
// key's link count is the number of stored links to it; the orphans and
// expiry buckets list exactly the keys they should; every payload opens;
// each owner's charge is the sum of their keys' charges; every name points
// at a stored key. It returns all problems found, joined.
func (db *DB) Check() error {
	var problems []error
	bad := func(format string, args ...any) {
		problems = append(problems, fmt.Errorf("keystore: check %s: "+format, append([]any{db.path}, args...)...))
	}
	err := db.View(func(tx *Tx) error {
		for err := range tx.btx.Check() {
			bad("bbolt: %v", err)
		}
		keys := map[uint32]*KeyRecord{}
		usage := map[uint32]Usage{}
		tx.bucket(bucketKeys).ForEach(func(k, v []byte) error {
			var r KeyRecord
			if err := r.UnmarshalBinary(v); err != nil || len(k) != 4 || r.Serial != binary.BigEndian.Uint32(k) {
				bad("key entry %x: %v", k, err)
				return nil
			}
			keys[r.Serial] = &r
			if r.Flags&FlagInQuota != 0 {
				u := usage[r.UID]
				u.Keys++
				u.Bytes += r.QuotaBytes
				usage[r.UID] = u
			}
			return nil
		})

		links := map[uint32]uint32{} // key → stored links to it
		contents := map[uint32]int{} // keyring → links it holds
		indexed := map[string]bool{} // index keys the links imply
		tx.bucket(bucketLinks).ForEach(func(k, v []byte) error {
			if len(k) != 12 || len(v) != 4 {
				bad("link entry %x → %x", k, v)
				return nil
			}
			ring, child := binary.BigEndian.Uint32(k), binary.BigEndian.Uint32(v)
			seq := binary.BigEndian.Uint64(k[4:])
			rr, cr := keys[ring], keys[child]
			switch {
			case rr == nil || !rr.IsKeyring():
				bad("link %d/%d from %d, not a stored keyring", ring, seq, ring)
			case cr == nil:
				bad("keyring %d links %d, which is not stored", ring, child)
			default:
				if seq >= rr.NextSeq {
					bad("keyring %d has a link at %d, past its next position %d", ring, seq, rr.NextSeq)
				}
				ik := string(indexKey(ring, cr.Type, cr.Description))
				if indexed[ik] {
					bad("keyring %d links two keys of type %q description %q", ring, cr.Type, cr.Description)
				}
				indexed[ik] = true
				if l, ok := tx.Lookup(ring, cr.Type, cr.Description); !ok || l.Key != child || l.Seq != seq {
					bad("keyring %d: index disagrees with link %d → %d", ring, seq, child)
				}
				if tx.bucket(bucketParents).Get(parentKey(child, ring, seq)) == nil {
					bad("link %d/%d → %d has no parent entry", ring, seq, child)
				}
			}
			links[child]++
			contents[ring]++
			return nil
		})
		tx.bucket(bucketIndex).ForEach(func(k, v []byte) error {
			if !indexed[string(k)] {
				bad("index entry %q has no link", k)
			}
			return nil
		})
		tx.bucket(bucketParents).ForEach(func(k, v []byte) error {
			if len(k) != 16 {
				bad("parent entry %x", k)
				return nil
			}
			child := tx.bucket(bucketLinks).Get(linkKey(binary.BigEndian.Uint32(k[4:]), binary.BigEndian.Uint64(k[8:])))
			if len(child) != 4 || binary.BigEndian.Uint32(child) != binary.BigEndian.Uint32(k) {
				bad("parent entry %x matches no link", k)
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
		tx.bucket(bucketPayloads).ForEach(func(k, v []byte) error {
			if len(k) != 4 || keys[binary.BigEndian.Uint32(k)] == nil {
				bad("payload %x belongs to no key", k)
			}
			return nil
		})
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
			if len(v) != 4 || keys[binary.BigEndian.Uint32(v)] == nil {
				bad("name %q names no stored key", k)
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
