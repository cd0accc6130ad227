//go:build linux

package keyring

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keystore"
	"github.com/keyctl-go/keyctl-go/perms"
	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// PersistentKeyringExpiry is how long a persistent keyring lives after it
// was last asked for (/proc/sys/kernel/keys/persistent_keyring_expiry).
const PersistentKeyringExpiry = 259200 * time.Second

// OwnUID asks GetPersistent for the caller's own persistent keyring.
const OwnUID = ^uint32(0)

// GetPersistent links the persistent keyring of uid (OwnUID: the caller's)
// into dest and returns its serial (KEYCTL_GET_PERSISTENT). The keyring,
// _persistent.<uid>, is made on first use, is not charged to anyone's
// quota, and expires PersistentKeyringExpiry after the last call, which
// pushes the expiry back without posting anything. Another uid's keyring
// needs uid 0 (standing in for CAP_SETUID), else EPERM. dest needs Write
// (ENOTDIR if not a keyring), the persistent keyring Link. Posts KeyLinked
// on dest.
func (p *Process) GetPersistent(ctx context.Context, uid uint32, dest Serial) (Serial, error) {
	uid, err := p.persistentUID(uid)
	if err != nil {
		return 0, err
	}
	if err := p.create(ctx, dest); err != nil {
		return 0, err
	}
	var id Serial
	err = p.update(ctx, func(t *txn) (err error) {
		id, err = t.getPersistent(uid, dest)
		return err
	})
	return id, err
}

// persistentUID is the uid whose persistent keyring GetPersistent may
// give the process: its own, or any for uid 0.
func (p *Process) persistentUID(uid uint32) (uint32, error) {
	if uid == OwnUID {
		uid = p.cred.UID
	}
	if uid != p.cred.UID && !p.sysAdmin() {
		return 0, fmt.Errorf("keyring: keyctl_get_persistent: uid %d's persistent keyring: %w", uid, unix.EPERM)
	}
	return uid, nil
}

// getPersistent is GetPersistent once uid is checked.
func (t *txn) getPersistent(uid uint32, dest Serial) (Serial, error) {
	const op = "keyctl_get_persistent"
	d, err := t.lookup(op, dest, 0, perms.Write)
	if err != nil {
		return 0, err
	}
	if !d.IsKeyring() {
		return 0, errKey(op, dest, unix.ENOTDIR, "not a keyring")
	}
	r, err := t.persistentKeyring(uid)
	if err != nil {
		return 0, err
	}
	// The kernel reaches it through its register with a possessed
	// reference (key_get_persistent), so Link may come from the
	// possessor byte.
	pk := ref{KeyRecord: r, possessed: true}
	if err := t.permit(op, Serial(r.Serial), pk, perms.Link); err != nil {
		return 0, err
	}
	if err := t.link(op, pk, d); err != nil {
		return 0, err
	}
	t.post(d.serial(), watchqueue.KeyLinked, Serial(r.Serial))
	return Serial(r.Serial), nil
}

// persistentKeyring finds or makes uid's persistent keyring and pushes its
// expiry back.
func (t *txn) persistentKeyring(uid uint32) (*keystore.KeyRecord, error) {
	expiry := t.now + PersistentKeyringExpiry.Nanoseconds()
	if s := t.tx.Name(keystore.NamePersistent, uidName(uid)); s != 0 {
		r, err := t.key(Serial(s))
		if err != nil {
			return nil, err
		}
		if t.validate("keyctl_get_persistent", Serial(s), r) == nil {
			r.Expiry = expiry
			return r, t.put(r)
		}
	}
	serial, err := t.tx.NewSerial()
	if err != nil {
		return nil, err
	}
	r := &keystore.KeyRecord{
		Serial:      serial,
		Type:        "keyring",
		Description: fmt.Sprintf("_persistent.%d", uid),
		UID:         uid,
		GID:         perms.InvalidGID,
		Perm:        uint32(perms.DefaultPersistentKeyring),
		CTime:       t.now,
		Expiry:      expiry,
		Pins:        1,
	}
	if err := t.put(r); err != nil {
		return nil, err
	}
	t.expiring = true
	return r, t.tx.PutName(keystore.NamePersistent, uidName(uid), r.Serial)
}
