//go:build linux

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
	// Charges to one owner add up; calls pass one to three charges, so a
	// slice beats a map.
	var sum []charge
	for _, c := range charges {
		i := 0
		for i < len(sum) && sum[i].uid != c.uid {
			i++
		}
		if i == len(sum) {
			sum = append(sum, charge{uid: c.uid})
		}
		sum[i].keys += c.keys
		sum[i].bytes += c.bytes
	}
	for _, c := range sum {
		uid := c.uid
		u := t.usage(uid)
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

// usage is what uid is charged, counting what this transaction has
// applied so far.
func (t *txn) usage(uid uint32) keystore.Usage {
	for _, u := range t.charged {
		if u.uid == uid {
			return u.Usage
		}
	}
	// An add checks the quota twice before it charges it: the stored
	// figure is read once per operation.
	for _, u := range t.stored {
		if u.uid == uid {
			return u.Usage
		}
	}
	u := t.tx.Quota(uid)
	t.stored = append(t.stored, ownerUsage{uid: uid, Usage: u})
	return u
}

// applyQuota records charges, already checked. They are kept in the txn
// and written once, by flushQuota, however many charges an operation makes.
func (t *txn) applyQuota(charges ...charge) error {
	for _, c := range charges {
		if c.keys == 0 && c.bytes == 0 {
			continue
		}
		u := t.usage(c.uid)
		keys, bytes := int64(u.Keys)+c.keys, int64(u.Bytes)+c.bytes
		if keys < 0 || bytes < 0 {
			return fmt.Errorf("keyring: uid %d's quota would go negative (%d keys, %d bytes): %w", c.uid, keys, bytes, keystore.ErrCorrupt)
		}
		t.setUsage(c.uid, keystore.Usage{Keys: uint32(keys), Bytes: uint32(bytes)})
	}
	return nil
}

func (t *txn) setUsage(uid uint32, u keystore.Usage) {
	for i := range t.charged {
		if t.charged[i].uid == uid {
			t.charged[i].Usage = u
			return
		}
	}
	t.charged = append(t.charged, ownerUsage{uid: uid, Usage: u})
}

// ownerUsage is an owner's charge as a transaction has left it.
type ownerUsage struct {
	uid uint32
	keystore.Usage
}

// flushQuota writes the charges applyQuota kept.
func (t *txn) flushQuota() error {
	for _, u := range t.charged {
		if err := t.tx.PutQuota(u.uid, u.Usage); err != nil {
			return err
		}
	}
	t.charged, t.stored = nil, nil // the store has the figures now
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
