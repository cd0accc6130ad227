//go:build linux

package keyring

import (
	"github.com/keyctl-go/keyctl-go/keystore"
)

// addLink links child into ring, displacing a key of the same type and
// description (which keeps its position). The caller has checked
// everything, the quota for a new link included; addLink only writes. It
// returns the key it displaced, if any, for the caller to collect. ring
// and child are updated in place.
func (t *txn) addLink(ring, child *keystore.KeyRecord) error {
	old, ok := t.tx.Lookup(ring.Serial, t.tx.RecordHash(child))
	switch {
	case ok && old.Key == child.Serial:
		return nil // linked already: the kernel replaces the link with itself
	case ok:
		displaced, err := t.tx.Key(old.Key)
		if err != nil {
			return err
		}
		if err := t.tx.DeleteLink(ring.Serial, old, t.tx.RecordHash(child)); err != nil {
			return err
		}
		if displaced != nil {
			if !t.tx.IsVolatileLink(ring.Serial, displaced.Serial) {
				displaced.Links--
				if err := t.put(displaced); err != nil {
					return err
				}
			}
			t.dropped = append(t.dropped, Serial(displaced.Serial))
		}
		if !t.tx.IsVolatileLink(ring.Serial, child.Serial) {
			child.Links++
			if err := t.put(child); err != nil {
				return err
			}
		}
		return t.tx.PutLink(ring.Serial, keystore.Link{Seq: old.Seq, Key: child.Serial}, t.tx.RecordHash(child))
	}
	return t.linkNew(ring, child)
}

// linkNew links child into ring at its next position; ring holds no key of
// child's type and description.
func (t *txn) linkNew(ring, child *keystore.KeyRecord) error {
	seq := ring.NextSeq
	ring.NextSeq++
	if !t.tx.IsVolatileLink(ring.Serial, child.Serial) {
		// Stored counters count stored links only (see keystore.FlagVolatile).
		ring.DataLen++
		if ring.Flags&keystore.FlagInQuota != 0 {
			ring.QuotaBytes += keyringLinkBytes
		}
		if err := t.applyQuota(linkCharge(ring, 1)); err != nil {
			return err
		}
		child.Links++
		if err := t.put(child); err != nil {
			return err
		}
	}
	if err := t.put(ring); err != nil {
		return err
	}
	return t.tx.PutLink(ring.Serial, keystore.Link{Seq: seq, Key: child.Serial}, t.tx.RecordHash(child))
}

// removeLink takes the link l to child out of ring, gives back what ring
// was charged for it, and destroys child if nothing holds it any more.
// Destroying it here, rather than listing it as an orphan for sweep, keeps
// clearing a large keyring linear: bbolt's in-memory node for a growing
// orphans bucket does not split until the commit, so each insertion into it
// would cost as much as all before it.
func (t *txn) removeLink(ring *keystore.KeyRecord, l keystore.Link, child *keystore.KeyRecord) error {
	volatile := t.tx.IsVolatileLink(ring.Serial, child.Serial)
	if err := t.tx.DeleteLink(ring.Serial, l, t.tx.RecordHash(child)); err != nil {
		return err
	}
	if volatile {
		if t.unheld(child) {
			return t.destroy(child)
		}
		return nil
	}
	ring.DataLen--
	if ring.Flags&keystore.FlagInQuota != 0 {
		ring.QuotaBytes -= keyringLinkBytes
	}
	if err := t.applyQuota(linkCharge(ring, -1)); err != nil {
		return err
	}
	if err := t.put(ring); err != nil {
		return err
	}
	child.Links--
	if t.unheld(child) {
		return t.destroy(child)
	}
	return t.put(child)
}

// unheld reports whether nothing holds r: no stored link or pin, no
// process, no volatile link.
func (t *txn) unheld(r *keystore.KeyRecord) bool {
	return !r.Held() && !t.s.isHeld(Serial(r.Serial)) && t.tx.VolatileRefs(r.Serial) == 0
}

// clearKeyring removes every link from ring, silently.
func (t *txn) clearKeyring(ring *keystore.KeyRecord) error {
	var links []keystore.Link
	for l := range t.tx.Links(ring.Serial) {
		links = append(links, l)
	}
	for _, l := range links {
		child, err := t.tx.Key(l.Key)
		if err != nil {
			return err
		}
		if child == nil {
			continue
		}
		if child.Serial == ring.Serial {
			child = ring
		}
		if err := t.removeLink(ring, l, child); err != nil {
			return err
		}
	}
	return nil
}

// unlinkEverywhere removes every link to r, silently, as gc removes the
// links to a dead key.
func (t *txn) unlinkEverywhere(r *keystore.KeyRecord) error {
	var parents []keystore.Parent
	for p := range t.tx.Parents(r.Serial) {
		parents = append(parents, p)
	}
	for _, p := range parents {
		ring, err := t.tx.Key(p.Ring)
		if err != nil {
			return err
		}
		if ring == nil {
			continue
		}
		if ring.Serial == r.Serial {
			ring = r
		}
		if err := t.removeLink(ring, keystore.Link{Seq: p.Seq, Key: r.Serial}, r); err != nil {
			return err
		}
	}
	return nil
}
