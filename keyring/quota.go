package keyring

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keystore"
)

// charge is a change to one owner's quota: keys and bytes, either sign.
type charge struct {
	uid   uint32
	keys  int64
	bytes int64
}

// checkQuota fails with EDQUOT if any growth in charges takes its owner
// past the limits. Charges to the same owner add up. Nothing is written:
// operations check before they write, then applyQuota.
func (t *txn) checkQuota(op string, id Serial, charges ...charge) error {
	sum := map[uint32]charge{}
	for _, c := range charges {
		s := sum[c.uid]
		s.uid, s.keys, s.bytes = c.uid, s.keys+c.keys, s.bytes+c.bytes
		sum[c.uid] = s
	}
	for uid, c := range sum {
		u := t.tx.Quota(uid)
		maxKeys, maxBytes := t.s.quota.limits(uid)
		if c.keys > 0 && int64(u.Keys)+c.keys > int64(maxKeys) {
			return errKey(op, id, unix.EDQUOT, "uid %d holds %d of %d keys", uid, u.Keys, maxKeys)
		}
		if c.bytes > 0 && int64(u.Bytes)+c.bytes > int64(maxBytes) {
			return errKey(op, id, unix.EDQUOT, "uid %d holds %d of %d bytes, needs %d more", uid, u.Bytes, maxBytes, c.bytes)
		}
	}
	return nil
}

// applyQuota records charges, already checked.
func (t *txn) applyQuota(charges ...charge) error {
	for _, c := range charges {
		if c.keys == 0 && c.bytes == 0 {
			continue
		}
		u := t.tx.Quota(c.uid)
		keys, bytes := int64(u.Keys)+c.keys, int64(u.Bytes)+c.bytes
		if keys < 0 || bytes < 0 {
			return fmt.Errorf("keyring: uid %d's quota would go negative (%d keys, %d bytes): %w", c.uid, keys, bytes, keystore.ErrCorrupt)
		}
		if err := t.tx.PutQuota(c.uid, keystore.Usage{Keys: uint32(keys), Bytes: uint32(bytes)}); err != nil {
			return err
		}
	}
	return nil
}

// linkCharge is what growing ring by one link costs its owner, if the
// keyring is charged at all.
func linkCharge(ring *keystore.KeyRecord, links int64) charge {
	if ring.Flags&keystore.FlagInQuota == 0 {
		return charge{uid: ring.UID}
	}
	return charge{uid: ring.UID, bytes: links * keyringLinkBytes}
}
