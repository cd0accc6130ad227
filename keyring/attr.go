//go:build linux

package keyring

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keystore"
	"github.com/keyctl-go/keyctl-go/perms"
	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// Update replaces a key's payload (KEYCTL_UPDATE): payloads over
// MaxUpdatePayload are EINVAL, the key needs Write, keyrings are
// EOPNOTSUPP. The expiry is reset to permanent. Posts KeyUpdated.
func (p *Process) Update(ctx context.Context, id Serial, payload []byte) error {
	const op = "keyctl_update"
	if len(payload) > MaxUpdatePayload {
		return fmt.Errorf("keyring: %s %v: payload of %d bytes, limit %d: %w", op, id, len(payload), MaxUpdatePayload, unix.EINVAL)
	}
	return p.update(ctx, func(t *txn) error { return t.update(id, payload) })
}

func (t *txn) update(id Serial, payload []byte) error {
	const op = "keyctl_update"
	k, err := t.lookup(op, id, 0, perms.Write)
	if err != nil {
		return err
	}
	kt := keyTypes[k.Type]
	if kt == nil || !kt.updatable {
		return errKey(op, id, unix.EOPNOTSUPP, "%s keys cannot be updated", k.Type)
	}
	return t.updateKey(op, k, kt, payload)
}

// Revoke revokes a key (KEYCTL_REVOKE): Write, or failing that Setattr. A
// revoked key fails lookups with EKEYREVOKED, loses its payload (a keyring
// its contents, silently) and is reaped after the GC delay. Posts
// KeyRevoked the first time only.
func (p *Process) Revoke(ctx context.Context, id Serial) error {
	const op = "keyctl_revoke"
	return p.update(ctx, func(t *txn) error { return t.revoke(id) })
}

func (t *txn) revoke(id Serial) error {
	const op = "keyctl_revoke"
	k, err := t.lookup(op, id, 0, perms.Write)
	if errors.Is(err, unix.EACCES) {
		k, err = t.lookup(op, id, 0, perms.Setattr)
	}
	if err != nil {
		return err
	}
	if k.Flags&keystore.FlagKeep != 0 {
		return errKey(op, id, unix.EPERM, "key is kept")
	}
	if k.Flags&keystore.FlagRevoked != 0 {
		return nil
	}
	r := k.KeyRecord
	if r.IsKeyring() {
		if err := t.clearKeyring(r); err != nil {
			return err
		}
	} else if kt := keyTypes[r.Type]; kt != nil && r.Flags&keystore.FlagInQuota != 0 {
		// The payload goes, and its charge with it.
		freed := int64(kt.chargeBytes(int(r.DataLen)))
		if err := t.applyQuota(charge{uid: r.UID, bytes: -freed}); err != nil {
			return err
		}
		r.QuotaBytes -= uint32(freed)
	}
	if !r.IsKeyring() {
		r.DataLen = 0
		if err := t.tx.PutPayload(r, nil); err != nil {
			return err
		}
	}
	r.Flags |= keystore.FlagRevoked
	// As in the kernel, revocation time and expiry share one field, so
	// the collector reaps revoked keys after the GC delay.
	if r.Expiry == 0 || r.Expiry > t.now {
		r.Expiry = t.now
	}
	t.expiring = true
	if err := t.put(r); err != nil {
		return err
	}
	t.post(k.serial(), watchqueue.KeyRevoked, 0)
	return nil
}

// Invalidate invalidates a key (KEYCTL_INVALIDATE): it needs Search. The key
// at once fails lookups with ENOKEY, is removed from every keyring
// (silently) and is destroyed unless a process still holds it. Posts
// KeyInvalidated the first time only.
func (p *Process) Invalidate(ctx context.Context, id Serial) error {
	const op = "keyctl_invalidate"
	return p.update(ctx, func(t *txn) error { return t.invalidate(id) })
}

func (t *txn) invalidate(id Serial) error {
	const op = "keyctl_invalidate"
	k, err := t.lookup(op, id, 0, perms.Search)
	if err != nil {
		return err
	}
	if k.Flags&keystore.FlagKeep != 0 {
		return errKey(op, id, unix.EPERM, "key is kept")
	}
	r := k.KeyRecord
	r.Flags |= keystore.FlagInvalidated
	if err := t.put(r); err != nil {
		return err
	}
	t.post(k.serial(), watchqueue.KeyInvalidated, 0)
	return t.reap(r)
}

// SetTimeout sets a key to expire after d, rounded down to whole seconds as
// the kernel takes them; 0 makes it permanent (KEYCTL_SET_TIMEOUT). It needs
// Setattr; an expired key is EKEYEXPIRED. Posts KeySetattr.
func (p *Process) SetTimeout(ctx context.Context, id Serial, d time.Duration) error {
	const op = "keyctl_set_timeout"
	if d < 0 {
		return fmt.Errorf("keyring: %s %v: negative timeout %v: %w", op, id, d, unix.EINVAL)
	}
	if err := p.create(ctx, id); err != nil {
		return err
	}
	return p.update(ctx, func(t *txn) error { return t.setTimeout(id, d) })
}

func (t *txn) setTimeout(id Serial, d time.Duration) error {
	const op = "keyctl_set_timeout"
	k, err := t.lookup(op, id, lookupPartial, perms.Setattr)
	if err != nil {
		return err
	}
	if k.Flags&keystore.FlagKeep != 0 {
		return errKey(op, id, unix.EPERM, "key is kept")
	}
	r := k.KeyRecord
	r.Expiry = 0
	if secs := d / time.Second; secs > 0 {
		r.Expiry = t.now + (secs * time.Second).Nanoseconds()
		t.expiring = true
	}
	if err := t.put(r); err != nil {
		return err
	}
	t.post(k.serial(), watchqueue.KeySetattr, 0)
	return nil
}

// SetPerm sets a key's permission mask (KEYCTL_SETPERM): bits outside
// perms.AllMask are EINVAL; the key needs Setattr, and only its owner (or
// uid 0, standing in for CAP_SYS_ADMIN) may change it, else EACCES. Posts
// KeySetattr.
func (p *Process) SetPerm(ctx context.Context, id Serial, m perms.Mask) error {
	const op = "keyctl_setperm"
	if err := m.Validate(); err != nil {
		return fmt.Errorf("keyring: %s %v: %w", op, id, err)
	}
	if err := p.create(ctx, id); err != nil {
		return err
	}
	return p.update(ctx, func(t *txn) error { return t.setPerm(id, m) })
}

func (t *txn) setPerm(id Serial, m perms.Mask) error {
	const op = "keyctl_setperm"
	k, err := t.lookup(op, id, lookupPartial, perms.Setattr)
	if err != nil {
		return err
	}
	if k.UID != t.p.cred.UID && !t.p.sysAdmin() {
		return errKey(op, id, unix.EACCES, "only the owner may change the mask")
	}
	k.Perm = uint32(m)
	if err := t.put(k.KeyRecord); err != nil {
		return err
	}
	t.post(k.serial(), watchqueue.KeySetattr, 0)
	return nil
}

// Unchanged leaves an owner or group as it is in Chown.
const Unchanged = ^uint32(0)

// Chown changes a key's owner and group (KEYCTL_CHOWN); Unchanged leaves
// either as it is, and both Unchanged does nothing. The key needs Setattr.
// Giving the key to another uid, or to a group the caller is not in, is for
// uid 0 alone (CAP_SYS_ADMIN), else EACCES. A new owner takes over the
// key's charge, EDQUOT if it does not fit. Posts KeySetattr.
func (p *Process) Chown(ctx context.Context, id Serial, uid, gid uint32) error {
	const op = "keyctl_chown"
	if uid == Unchanged && gid == Unchanged {
		return nil
	}
	if err := p.create(ctx, id); err != nil {
		return err
	}
	return p.update(ctx, func(t *txn) error { return t.chown(id, uid, gid) })
}

func (t *txn) chown(id Serial, uid, gid uint32) error {
	const op = "keyctl_chown"
	k, err := t.lookup(op, id, lookupPartial, perms.Setattr)
	if err != nil {
		return err
	}
	privileged := uid != Unchanged && uid != k.UID || gid != Unchanged && gid != k.GID && !t.p.cred.InGroup(gid)
	if privileged && !t.p.sysAdmin() {
		return errKey(op, id, unix.EACCES, "changing owner or group needs privilege")
	}
	r := k.KeyRecord
	if uid != Unchanged && uid != r.UID {
		if r.Flags&keystore.FlagInQuota != 0 {
			to := charge{uid: uid, keys: 1, bytes: int64(r.QuotaBytes)}
			if err := t.checkQuota(op, id, to); err != nil {
				return err
			}
			if err := t.applyQuota(to, charge{uid: r.UID, keys: -1, bytes: -int64(r.QuotaBytes)}); err != nil {
				return err
			}
		}
		r.UID = uid
	}
	if gid != Unchanged {
		r.GID = gid
	}
	if err := t.put(r); err != nil {
		return err
	}
	t.post(k.serial(), watchqueue.KeySetattr, 0)
	return nil
}

// Restrict restricts what may be linked into a keyring
// (KEYCTL_RESTRICT_KEYRING). With typ and restriction both "" nothing may be
// linked any more. In the kernel's order: the keyring needs Setattr; a type
// without a restriction, or the reverse, is EINVAL; the type name is
// checked; a non-keyring is ENOTDIR; an unknown type is ENOKEY, and since no
// key type here supports link restrictions, a known one is ENOENT; a
// keyring already restricted is EEXIST. Posts KeySetattr. Before all of
// that, a type or restriction holding a NUL byte is EINVAL, as Go's
// wrapper of the call says.
func (p *Process) Restrict(ctx context.Context, ring Serial, typ, restriction string) error {
	const op = "keyctl_restrict_keyring"
	if strings.IndexByte(typ, 0) >= 0 {
		return errNUL("key type name", typ)
	}
	if strings.IndexByte(restriction, 0) >= 0 {
		return errNUL("restriction", restriction)
	}
	return p.update(ctx, func(t *txn) error { return t.restrict(ring, typ, restriction) })
}

func (t *txn) restrict(ring Serial, typ, restriction string) error {
	const op = "keyctl_restrict_keyring"
	k, err := t.lookup(op, ring, 0, perms.Setattr)
	if err != nil {
		return err
	}
	if (typ == "") != (restriction == "") {
		return fmt.Errorf("keyring: %s %v: a restriction needs both a type and a rule: %w", op, ring, unix.EINVAL)
	}
	if typ != "" {
		if err := checkTypeName(typ); err != nil {
			return err
		}
	}
	if !k.IsKeyring() {
		return errKey(op, ring, unix.ENOTDIR, "not a keyring")
	}
	if typ != "" {
		if keyTypes[typ] == nil {
			return errKey(op, ring, unix.ENOKEY, "no key type %q", typ)
		}
		return errKey(op, ring, unix.ENOENT, "key type %q has no link restrictions", typ)
	}
	if k.Flags&keystore.FlagRestricted != 0 {
		return errKey(op, ring, unix.EEXIST, "already restricted")
	}
	k.Flags |= keystore.FlagRestricted
	if err := t.put(k.KeyRecord); err != nil {
		return err
	}
	t.post(k.serial(), watchqueue.KeySetattr, 0)
	return nil
}

// sysAdmin stands in for CAP_SYS_ADMIN: uid 0.
func (p *Process) sysAdmin() bool { return p.cred.UID == 0 }
