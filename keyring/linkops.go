//go:build linux

package keyring

import (
	"context"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keystore"
	"github.com/keyctl-go/keyctl-go/perms"
	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// Link links key into ring (KEYCTL_LINK): Write on ring, Link on key. A key
// of the same type and description already in ring is displaced. Linking a
// keyring into itself or below itself is EDEADLK; linking a keyring whose
// own tree is deeper than the search depth is ELOOP; a restricted ring is
// EPERM; a new link over the ring owner's quota is EDQUOT. Posts KeyLinked
// on ring, also when key was linked there already.
func (p *Process) Link(ctx context.Context, key, ring Serial) error {
	const op = "keyctl_link"
	if err := p.create(ctx, key, ring); err != nil {
		return err
	}
	return p.update(ctx, func(t *txn) error { return t.linkOp(key, ring) })
}

func (t *txn) linkOp(key, ring Serial) error {
	const op = "keyctl_link"
	r, err := t.lookup(op, ring, 0, perms.Write)
	if err != nil {
		return err
	}
	k, err := t.lookup(op, key, 0, perms.Link)
	if err != nil {
		return err
	}
	if err := t.link(op, k, r); err != nil {
		return err
	}
	t.post(r.serial(), watchqueue.KeyLinked, k.serial())
	return nil
}

// link checks and makes a link (key_link), without posting.
func (t *txn) link(op string, key, ring ref) error {
	if !ring.IsKeyring() {
		return errKey(op, ring.serial(), unix.ENOTDIR, "not a keyring")
	}
	if ring.Flags&keystore.FlagRevoked != 0 {
		return errKey(op, ring.serial(), unix.EKEYREVOKED, "")
	}
	if old, linked := t.tx.Lookup(ring.Serial, t.tx.RecordHash(key.KeyRecord)); !linked || old.Key != key.Serial {
		if !linked {
			if err := t.checkQuota(op, ring.serial(), linkCharge(ring.KeyRecord, 1)); err != nil {
				return err
			}
		}
	}
	if err := t.checkRestriction(op, ring.serial(), ring.KeyRecord); err != nil {
		return err
	}
	if key.IsKeyring() {
		if err := t.checkCycle(op, key, ring); err != nil {
			return err
		}
	}
	if key.Serial == ring.Serial {
		return errKey(op, key.serial(), unix.EDEADLK, "a keyring cannot hold itself")
	}
	return t.addLink(ring.KeyRecord, key.KeyRecord)
}

// checkCycle is keyring_detect_cycle: linking keyring key into ring must
// not make ring reachable from key, and key's own tree must fit within the
// search depth.
func (t *txn) checkCycle(op string, key, ring ref) error {
	if key.Serial == ring.Serial {
		return errKey(op, key.serial(), unix.EDEADLK, "a keyring cannot hold itself")
	}
	// No visited set, as in the kernel: a keyring reached at one depth by
	// one path and deeper by another must be judged at the deeper one.
	var walk func(serial uint32, depth int) error
	walk = func(serial uint32, depth int) error {
		for l := range t.tx.ChildKeyrings(serial) {
			if l.Key == ring.Serial {
				return errKey(op, key.serial(), unix.EDEADLK, "keyring %d is below it", ring.Serial)
			}
			if depth >= MaxSearchDepth {
				return errKey(op, key.serial(), unix.ELOOP, "its keyrings nest deeper than %d", MaxSearchDepth)
			}
			if err := walk(l.Key, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(key.Serial, 0)
}

// Unlink removes key from ring (KEYCTL_UNLINK): Write on ring; the key's
// state does not matter. As in the kernel, the link removed is the one in
// ring's slot for key's type and description, which may hold another key
// of that name; an empty slot is ENOENT. Posts KeyUnlinked on ring with key
// as aux. A key nothing holds any more is destroyed.
func (p *Process) Unlink(ctx context.Context, key, ring Serial) error {
	const op = "keyctl_unlink"
	return p.update(ctx, func(t *txn) error { return t.unlink(key, ring) })
}

func (t *txn) unlink(key, ring Serial) error {
	const op = "keyctl_unlink"
	r, err := t.lookup(op, ring, 0, perms.Write)
	if err != nil {
		return err
	}
	k, err := t.lookup(op, key, lookupDeferPerm|lookupPartial, 0)
	if err != nil {
		return err
	}
	if r.Flags&keystore.FlagKeep != 0 && k.Flags&keystore.FlagKeep != 0 {
		return errKey(op, key, unix.EPERM, "both key and keyring are kept")
	}
	if !r.IsKeyring() {
		return errKey(op, ring, unix.ENOTDIR, "not a keyring")
	}
	if err := t.unlinkSlot(op, r.KeyRecord, k.KeyRecord); err != nil {
		return err
	}
	t.post(r.serial(), watchqueue.KeyUnlinked, k.serial())
	return nil
}

// unlinkSlot removes the link in ring's slot for key's type and description
// (__key_unlink_begin deletes by index key), whichever key fills it.
func (t *txn) unlinkSlot(op string, ring, key *keystore.KeyRecord) error {
	l, ok := t.tx.Lookup(ring.Serial, t.tx.RecordHash(key))
	if !ok {
		return errKey(op, Serial(key.Serial), unix.ENOENT, "no %s %q in %d", key.Type, key.Description, ring.Serial)
	}
	child := key
	switch {
	case l.Key == ring.Serial:
		child = ring
	case l.Key != key.Serial:
		var err error
		if child, err = t.tx.Key(l.Key); err != nil {
			return err
		}
		if child == nil {
			return errKey(op, Serial(l.Key), unix.ENOKEY, "linked in %d but not stored", ring.Serial)
		}
	}
	return t.removeLink(ring, l, child)
}

// MoveExclusive makes Move fail with EEXIST rather than displace a key of
// the same type and description in the destination (KEYCTL_MOVE_EXCL).
const MoveExclusive = 1

// Move moves key from one keyring to another (KEYCTL_MOVE): Link on key,
// Write on both. Flags other than MoveExclusive are EINVAL; nothing of
// key's type and description in from is ENOENT (what is removed from from
// is whatever key fills that slot, as Unlink does); with MoveExclusive, a
// taken slot in to is EEXIST, even if key itself fills it. Moving within
// one keyring does nothing. Posts KeyUnlinked on from, then KeyLinked on to.
func (p *Process) Move(ctx context.Context, key, from, to Serial, flags uint) error {
	const op = "keyctl_move"
	if flags&^MoveExclusive != 0 {
		return fmt.Errorf("keyring: %s: flags %#x: %w", op, flags, unix.EINVAL)
	}
	if err := p.create(ctx, key, to); err != nil {
		return err
	}
	return p.update(ctx, func(t *txn) error { return t.move(key, from, to, flags) })
}

func (t *txn) move(key, from, to Serial, flags uint) error {
	const op = "keyctl_move"
	k, err := t.lookup(op, key, lookupPartial, perms.Link)
	if err != nil {
		return err
	}
	f, err := t.lookup(op, from, 0, perms.Write)
	if err != nil {
		return err
	}
	dst, err := t.lookup(op, to, 0, perms.Write)
	if err != nil {
		return err
	}
	if f.Serial == dst.Serial {
		return nil
	}
	if !f.IsKeyring() || !dst.IsKeyring() {
		return errKey(op, key, unix.ENOTDIR, "not a keyring")
	}
	if _, ok := t.tx.Lookup(f.Serial, t.tx.RecordHash(k.KeyRecord)); !ok {
		return errKey(op, key, unix.ENOENT, "no %s %q in %v", k.Type, k.Description, from)
	}
	if _, ok := t.tx.Lookup(dst.Serial, t.tx.RecordHash(k.KeyRecord)); ok && flags&MoveExclusive != 0 {
		return errKey(op, key, unix.EEXIST, "%v holds a key of that type and description", to)
	}
	// Link first, so the key is never unheld in between; both checks
	// run before anything is written.
	if err := t.link(op, k, dst); err != nil {
		return err
	}
	// Linking may have displaced and rewritten from (when key has its
	// type and description and dst held it): take both afresh.
	fr, err := t.key(f.serial())
	if err != nil {
		return err
	}
	kr, err := t.key(k.serial())
	if err != nil {
		return err
	}
	if err := t.unlinkSlot(op, fr, kr); err != nil {
		return err
	}
	t.post(f.serial(), watchqueue.KeyUnlinked, k.serial())
	t.post(dst.serial(), watchqueue.KeyLinked, k.serial())
	return nil
}

// Clear empties a keyring (KEYCTL_CLEAR): Write on it; not a keyring is
// ENOTDIR. Posts KeyCleared on it even if it was empty.
func (p *Process) Clear(ctx context.Context, ring Serial) error {
	const op = "keyctl_clear"
	if err := p.create(ctx, ring); err != nil {
		return err
	}
	return p.update(ctx, func(t *txn) error { return t.clear(ring) })
}

func (t *txn) clear(ring Serial) error {
	const op = "keyctl_clear"
	r, err := t.lookup(op, ring, 0, perms.Write)
	if err != nil {
		return err
	}
	if !r.IsKeyring() {
		return errKey(op, ring, unix.ENOTDIR, "not a keyring")
	}
	if r.Flags&keystore.FlagKeep != 0 {
		return errKey(op, ring, unix.EPERM, "keyring is kept")
	}
	if err := t.clearKeyring(r.KeyRecord); err != nil {
		return err
	}
	t.post(r.serial(), watchqueue.KeyCleared, 0)
	return nil
}
