//go:build linux

package keyring

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keystore"
	"github.com/keyctl-go/keyctl-go/perms"
)

// Description is what KEYCTL_DESCRIBE tells about a key.
type Description struct {
	Type        string
	UID, GID    uint32 // a key with no group shows perms.OverflowGID, as the kernel prints it
	Perm        perms.Mask
	Description string
}

// String is the kernel's describe string, "type;uid;gid;perm;description".
func (d Description) String() string {
	return fmt.Sprintf("%s;%d;%d;%08x;%s", d.Type, d.UID, d.GID, uint32(d.Perm), d.Description)
}

// Describe describes a key (KEYCTL_DESCRIBE): it needs View, and works on
// negative keys.
func (p *Process) Describe(ctx context.Context, id Serial) (Description, error) {
	if err := p.s.fresh(ctx); err != nil {
		return Description{}, err
	}
	if ck, ok := p.cachedKey(id, perms.View); ok {
		return describe(&ck.rec), nil
	}
	var d Description
	err := p.read(ctx, func(t *txn) (err error) {
		d, err = t.describe(id)
		return err
	})
	return d, err
}

func (t *txn) describe(id Serial) (Description, error) {
	k, err := t.lookup("keyctl_describe", id, lookupPartial, perms.View)
	if err != nil {
		return Description{}, err
	}
	t.remember(k, nil, false)
	return describe(k.KeyRecord), nil
}

func describe(r *keystore.KeyRecord) Description {
	d := Description{Type: r.Type, UID: r.UID, GID: r.GID, Perm: perms.Mask(r.Perm), Description: r.Description}
	if d.GID == perms.InvalidGID {
		d.GID = perms.OverflowGID
	}
	return d
}

// cachedKey answers from the read cache when it can: a positive serial,
// cached, usable now, granting need to this process (counting possession
// when the cache knows it). Anything else is for the slow path, which
// reports the precise error and fills the cache.
func (p *Process) cachedKey(id Serial, need perms.Perm) (*cachedKey, bool) {
	if id <= 0 {
		return nil, false
	}
	ck, graphRev := p.s.cache.get(uint32(id))
	if ck == nil || !ck.usable(p.s) {
		return nil, false
	}
	if perms.Granted(p.cred, ck.subject(), false)&need == need {
		return ck, true
	}
	possessed, known := p.cache.possession(ck.rec.Serial, graphRev)
	if !known || !possessed || perms.Granted(p.cred, ck.subject(), true)&need != need {
		return nil, false
	}
	return ck, true
}

// remember offers what the slow path read to the caches: the key (with its
// payload if it read one) and whether the process possesses it. It returns
// the cache's entry, or nil if the cache did not take it.
func (t *txn) remember(k ref, payload []byte, hasPayload bool) *cachedKey {
	if t.write {
		return nil // only committed state is cached; a write's view is not yet committed
	}
	if k.Flags&keystore.FlagVolatile != 0 {
		return nil // volatile keys change without a stored revision
	}
	rev := t.tx.Revision()
	c := t.s.cache
	ck := c.fill(rev, &cachedKey{rec: *k.KeyRecord, payload: payload, hasPayload: hasPayload})
	if current, graphGen := c.current(rev); current {
		t.p.cache.setPossession(k.Serial, k.possessed, graphGen, t.roots)
	}
	return ck
}

// Read returns a key's payload (KEYCTL_READ). For a keyring it is the
// serials of its keys, as the kernel returns them: little-endian 32-bit
// integers, in this store's order (insertion order). It needs Read, or
// possession; a logon key is EOPNOTSUPP, and the key's state is checked
// after the permission, as the kernel does.
func (p *Process) Read(ctx context.Context, id Serial) ([]byte, error) {
	if err := p.s.fresh(ctx); err != nil {
		return nil, err
	}
	if ck, ok := p.cachedReadable(id); ok {
		return bytes.Clone(ck.payload), nil
	}
	payload, _, err := p.readKey(ctx, id)
	return payload, err
}

// cachedReadable is the read cache's answer for Read: a cached payload of a
// readable type that the process may read. As in the kernel, Read needs the
// Read permission or possession, not View: this check is its own, against
// one snapshot of the cache.
func (p *Process) cachedReadable(id Serial) (*cachedKey, bool) {
	if id <= 0 {
		return nil, false
	}
	ck, graphRev := p.s.cache.get(uint32(id))
	if ck == nil || !ck.hasPayload || ck.rec.IsKeyring() || !ck.usable(p.s) {
		return nil, false
	}
	if kt := keyTypes[ck.rec.Type]; kt == nil || !kt.readable {
		return nil, false
	}
	if perms.Granted(p.cred, ck.subject(), false)&perms.Read != 0 {
		return ck, true
	}
	// A possessor may read whatever the mask says.
	possessed, known := p.cache.possession(ck.rec.Serial, graphRev)
	return ck, known && possessed
}

// Keys returns the serials of the keys a keyring holds, in insertion order:
// Read of a keyring, decoded. A key that is not a keyring is ENOTDIR.
func (p *Process) Keys(ctx context.Context, ring Serial) ([]Serial, error) {
	b, isKeyring, err := p.readKey(ctx, ring)
	if err != nil {
		return nil, err
	}
	return keys(b, isKeyring, ring)
}

func (p *Process) readKey(ctx context.Context, id Serial) (payload []byte, isKeyring bool, err error) {
	err = p.read(ctx, func(t *txn) error {
		payload, isKeyring, err = t.readKey(id)
		return err
	})
	return payload, isKeyring, err
}

func (t *txn) readKey(id Serial) (payload []byte, isKeyring bool, err error) {
	const op = "keyctl_read"
	k, err := t.lookup(op, id, lookupDeferPerm, 0)
	var pending *constructionPending
	if errors.As(err, &pending) {
		return nil, false, err
	}
	if err != nil {
		return nil, false, errKey(op, id, unix.ENOKEY, "")
	}
	if k.Flags&keystore.FlagNegative != 0 {
		return nil, false, errKey(op, id, unix.Errno(k.Reject), "negative key")
	}
	if err := t.permit(op, id, k, perms.Read); err != nil && !k.possessed {
		return nil, false, err
	}
	kt := keyTypes[k.Type]
	if kt == nil || !kt.readable {
		return nil, false, errKey(op, id, unix.EOPNOTSUPP, "%s keys cannot be read", k.Type)
	}
	if err := t.validate(op, id, k.KeyRecord); err != nil {
		return nil, false, err
	}
	if k.Type == authKeyType {
		payload, err = t.calloutInfo(op, k.KeyRecord)
		return payload, false, err
	}
	if k.IsKeyring() {
		for l := range t.tx.Links(k.Serial) {
			payload = binary.LittleEndian.AppendUint32(payload, l.Key)
		}
		return payload, true, nil
	}
	payload, err = t.tx.Payload(k.KeyRecord)
	if err == nil {
		t.remember(k, payload, true)
	}
	return payload, false, err
}

// keys decodes a keyring's payload as Keys does.
func keys(b []byte, isKeyring bool, ring Serial) ([]Serial, error) {
	if !isKeyring {
		return nil, errKey("keyctl_read", ring, unix.ENOTDIR, "not a keyring")
	}
	ids := make([]Serial, 0, len(b)/4)
	for ; len(b) >= 4; b = b[4:] {
		ids = append(ids, Serial(binary.LittleEndian.Uint32(b)))
	}
	return ids, nil
}

// read runs a read-only operation. If it resolves a user keyring that does
// not exist yet, the keyrings are made, as the kernel makes them on that
// lookup, and the operation runs again; so it does once a key under
// construction that it met has been constructed.
func (p *Process) read(ctx context.Context, fn func(t *txn) error) error {
	for {
		err := p.readOnce(ctx, fn)
		if again, err := awaitConstruction(ctx, err); !again {
			return err
		}
	}
}

func (p *Process) readOnce(ctx context.Context, fn func(t *txn) error) error {
	if err := p.s.fresh(ctx); err != nil {
		return err
	}
	err := p.view(fn)
	if errors.Is(err, errNeedsWrite) {
		if err := p.makeUserKeyrings(ctx); err != nil {
			return err
		}
		err = p.view(fn)
	}
	if err != nil && p.s.behind(ctx) {
		// What the host's copy refused (a key another host made a moment
		// ago) is asked once more of a copy as current as etcd.
		err = p.view(fn)
	}
	return err
}
