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

// Add creates a key of type typ with description desc and payload, and
// links it into ring (add_key). If ring already holds an updatable key of
// that type and description (user, logon, big_key), that key is updated
// instead, keeping its serial. A new keyring displaces a keyring of the
// same name. It returns the serial of the key created or updated.
//
// Checks run in the kernel's order, each with its errno: the type name
// (EINVAL, EPERM for '.'), the description (EINVAL; EPERM for a keyring
// named with a leading '.'), the payload size (EINVAL), the keyring (its
// lookup's errors, Write on it, ENOTDIR), the type (ENODEV), the payload
// for the type (EINVAL), the keyring's quota for a new link (EDQUOT), its
// restriction (EPERM), and the new key's quota (EDQUOT).
//
// A new key posts KeyInstantiated on itself and KeyLinked on ring; an
// update posts KeyUpdated on the key alone.
func (p *Process) Add(ctx context.Context, typ, desc string, payload []byte, ring Serial) (Serial, error) {
	const op = "add_key"
	if err := checkAdd(op, typ, desc, payload); err != nil {
		return 0, err
	}
	if err := p.create(ctx, ring); err != nil {
		return 0, err
	}
	var id Serial
	err := p.update(ctx, func(t *txn) error {
		var err error
		id, err = t.add(op, typ, desc, payload, ring)
		return err
	})
	return id, err
}

// checkAdd is what add_key checks before it looks anything up.
func checkAdd(op, typ, desc string, payload []byte) error {
	if err := checkNames(typ, desc); err != nil {
		return err
	}
	if desc != "" && desc[0] == '.' && typ == "keyring" {
		return fmt.Errorf("keyring: %s: keyring name %q is reserved: %w", op, desc, unix.EPERM)
	}
	if len(payload) > MaxAddPayload {
		return fmt.Errorf("keyring: %s: payload of %d bytes, limit %d: %w", op, len(payload), MaxAddPayload, unix.EINVAL)
	}
	return nil
}

// add is add_key inside a transaction, in the kernel's steps, each its
// own function below: the destination and the arguments, checked in the
// kernel's order (addDestination); the new link's admission (admitLink);
// an update of the key the keyring already holds by that name, which
// ends the operation (updateLinked), else a new key (allocKey), charged
// (chargeNewKey), stored and linked (storeNewKey); then its events.
func (t *txn) add(op, typ, desc string, payload []byte, ringID Serial) (Serial, error) {
	ring, kt, err := t.addDestination(op, typ, desc, payload, ringID)
	if err != nil {
		return 0, err
	}
	existing, linked := t.tx.Lookup(ring.Serial, t.tx.DescHash(typ, desc))
	if err := t.admitLink(op, ringID, ring, linked); err != nil {
		return 0, err
	}
	if linked && kt.updatable {
		if id, updated, err := t.updateLinked(op, ring, kt, existing.Key, payload); updated || err != nil {
			return id, err
		}
	}
	r, err := t.allocKey(kt, typ, desc, payload)
	if err != nil {
		return 0, err
	}
	if err := t.chargeNewKey(op, ringID, ring, r, linked); err != nil {
		return 0, err
	}
	if err := t.storeNewKey(ring, r, payload, linked); err != nil {
		return 0, err
	}
	t.post(Serial(r.Serial), watchqueue.KeyInstantiated, 0)
	t.post(ring.serial(), watchqueue.KeyLinked, Serial(r.Serial))
	return Serial(r.Serial), nil
}

// addDestination looks up the keyring add_key adds to, which the caller
// must be able to write, and checks the arguments against it in the
// kernel's order: the type (ENODEV), the keyring being one (ENOTDIR), the
// payload for the type (EINVAL), a description (EINVAL).
func (t *txn) addDestination(op, typ, desc string, payload []byte, ringID Serial) (ref, *keyType, error) {
	ring, err := t.lookup(op, ringID, 0, perms.Write)
	if err != nil {
		return ref{}, nil, err
	}
	kt := keyTypes[typ]
	if kt == nil {
		return ref{}, nil, fmt.Errorf("keyring: %s: unknown key type %q: %w", op, typ, unix.ENODEV)
	}
	if !ring.IsKeyring() {
		return ref{}, nil, errKey(op, ringID, unix.ENOTDIR, "not a keyring")
	}
	if err := checkPayload(op, kt, payload); err != nil {
		return ref{}, nil, err
	}
	if desc == "" {
		return ref{}, nil, fmt.Errorf("keyring: %s: a %s key needs a description: %w", op, typ, unix.EINVAL)
	}
	return ring, kt, nil
}

// admitLink asks whether ring takes the link add_key will make: room in
// its owner's quota for one more link, unless a key of that name is
// already linked (linked) and the new link replaces it; and its
// restriction.
func (t *txn) admitLink(op string, ringID Serial, ring ref, linked bool) error {
	if !linked {
		if err := t.checkQuota(op, ringID, linkCharge(ring.KeyRecord, 1)); err != nil {
			return err
		}
	}
	return t.checkRestriction(op, ringID, ring.KeyRecord)
}

// updateLinked updates the key ring already holds under the name, of a
// type that updates (user, logon, big_key), keeping its serial; updated
// is false if that key is revoked or invalidated, or gone, and must be
// displaced by a new one instead.
func (t *txn) updateLinked(op string, ring ref, kt *keyType, key uint32, payload []byte) (id Serial, updated bool, err error) {
	old, err := t.tx.Key(key)
	if err != nil {
		return 0, false, err
	}
	if old == nil || old.Flags&(keystore.FlagRevoked|keystore.FlagInvalidated) != 0 {
		return 0, false, nil
	}
	return Serial(old.Serial), true, t.updateKey(op, ref{KeyRecord: old, possessed: ring.possessed}, kt, payload)
}

// allocKey makes a new key's record (key_alloc): the type vets the
// description, and the key is owned by the caller, with the type's
// default mask and a serial of its own. It is not stored yet.
func (t *txn) allocKey(kt *keyType, typ, desc string, payload []byte) (*keystore.KeyRecord, error) {
	if kt.vetDesc != nil {
		if err := kt.vetDesc(desc); err != nil {
			return nil, err
		}
	}
	serial, err := t.tx.NewSerial()
	if err != nil {
		return nil, err
	}
	return &keystore.KeyRecord{
		Serial:      serial,
		Type:        typ,
		Description: desc,
		UID:         t.p.cred.UID,
		GID:         t.p.cred.GID,
		Perm:        uint32(kt.defaultMask()),
		CTime:       t.now,
		DataLen:     uint32(len(payload)),
		QuotaBytes:  uint32(len(desc)) + 1 + kt.chargeBytes(len(payload)),
	}, nil
}

// chargeNewKey charges r to its owner (unless the caller is uncharged:
// Store.ProcessNotInQuota), with the new link into ring unless it
// replaces one (linked), after checking that both fit (EDQUOT).
func (t *txn) chargeNewKey(op string, ringID Serial, ring ref, r *keystore.KeyRecord, linked bool) error {
	newCharge := charge{uid: r.UID}
	if !t.p.notInQuota {
		r.Flags |= keystore.FlagInQuota
		newCharge.keys, newCharge.bytes = 1, int64(r.QuotaBytes)
	}
	// The link's charge first: where the keyring's owner and the caller
	// both run out, the error names the keyring's.
	charges := []charge{newCharge}
	if !linked {
		charges = []charge{linkCharge(ring.KeyRecord, 1), newCharge}
	}
	if err := t.checkQuota(op, ringID, charges...); err != nil {
		return err
	}
	return t.applyQuota(newCharge)
}

// storeNewKey stores r with its payload and links it into ring, which
// puts it in ring's index of descriptions and displaces a key of the
// same name (linked: one is there).
func (t *txn) storeNewKey(ring ref, r *keystore.KeyRecord, payload []byte, linked bool) error {
	if err := t.tx.PutPayload(r, payload); err != nil {
		return err
	}
	// addLink stores r, already linked: storing it first, unlinked, would
	// list it as an orphan only to unlist it, one more page to sync. A
	// volatile link does not count in r's stored links, so addLink leaves r
	// alone; r is stored here, as what it then is: an orphan in the file.
	if t.tx.IsVolatileLink(ring.Serial, r.Serial) {
		if err := t.put(r); err != nil {
			return err
		}
	}
	if !linked {
		return t.linkNew(ring.KeyRecord, r) // no Lookup again: ring holds nothing by this name
	}
	return t.addLink(ring.KeyRecord, r)
}

// checkPayload applies a type's payload rules.
func checkPayload(op string, kt *keyType, payload []byte) error {
	switch {
	case kt.maxPayload == 0 && len(payload) > 0:
		return fmt.Errorf("keyring: %s: a %s takes no payload: %w", op, kt.name, unix.EINVAL)
	case kt.maxPayload > 0 && (len(payload) == 0 || len(payload) > kt.maxPayload):
		return fmt.Errorf("keyring: %s: a %s payload must be 1..%d bytes, not %d: %w", op, kt.name, kt.maxPayload, len(payload), unix.EINVAL)
	}
	return nil
}

// checkRestriction refuses links into a restricted keyring. The only
// restriction this store enforces is "reject everything"; typed
// restrictions cannot be set (Restrict says ENOENT).
func (t *txn) checkRestriction(op string, id Serial, ring *keystore.KeyRecord) error {
	if ring.Flags&keystore.FlagRestricted != 0 {
		return errKey(op, id, unix.EPERM, "keyring is restricted")
	}
	return nil
}

// updateKey replaces k's payload (__key_update): Write permission, a type
// that updates, the payload's quota; the expiry is reset to permanent.
func (t *txn) updateKey(op string, k ref, kt *keyType, payload []byte) error {
	if err := t.permit(op, k.serial(), k, perms.Write); err != nil {
		return err
	}
	if !kt.updatable {
		return errKey(op, k.serial(), unix.EOPNOTSUPP, "%s keys cannot be updated", kt.name)
	}
	if err := checkPayload(op, kt, payload); err != nil {
		return err
	}
	r := k.KeyRecord
	newBytes := uint32(len(r.Description)) + 1 + kt.chargeBytes(len(payload))
	// The charge follows the writer (see Store.ProcessNotInQuota): a
	// charged writer pays for the new payload, also on a key that was
	// uncharged; an uncharged one takes the key off its owner's quota.
	delta := charge{uid: r.UID}
	switch charged := r.Flags&keystore.FlagInQuota != 0; {
	case charged && !t.p.notInQuota:
		delta.bytes = int64(newBytes) - int64(r.QuotaBytes)
	case charged:
		delta.keys, delta.bytes = -1, -int64(r.QuotaBytes)
		r.Flags &^= keystore.FlagInQuota
	case !t.p.notInQuota:
		delta.keys, delta.bytes = 1, int64(newBytes)
		r.Flags |= keystore.FlagInQuota
	}
	if err := t.checkQuota(op, k.serial(), delta); err != nil {
		return err
	}
	r.QuotaBytes = newBytes
	if err := t.applyQuota(delta); err != nil {
		return err
	}
	r.DataLen = uint32(len(payload))
	r.Flags &^= keystore.FlagNegative
	r.Expiry = 0
	if err := t.put(r); err != nil {
		return err
	}
	if err := t.tx.PutPayload(r, payload); err != nil {
		return err
	}
	t.post(k.serial(), watchqueue.KeyUpdated, 0)
	return nil
}
