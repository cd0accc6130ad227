//go:build linux

package keyring

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/keyctl-go/keyctl-go/keystore"
	"github.com/keyctl-go/keyctl-go/perms"
)

// errNeedsWrite says a read-only operation met a user keyring that does not
// exist yet; the operation makes it in a write and tries again.
var errNeedsWrite = errors.New("keyring: the user keyrings must be created first")

// userKeyring returns the caller's user keyring (_uid.N) or user-session
// keyring (_uid_ses.N), creating both when first resolved, as the kernel
// does (and only then: possession searches the user-session keyring only if
// it exists). They
// are registered by name and charged to the user like any key it owns (a
// key each, description+1 bytes, and 4 bytes for the link the user-session
// keyring holds to the user keyring: measured on the kernel, /proc/key-users
// goes from 1/200 5/20000 to 3/200 35/20000 on a uid's first use of @u).
func (t *txn) userKeyring(kind keystore.NameKind) (Serial, error) {
	uid := t.p.cred.UID
	if s := t.tx.Name(kind, uidName(uid)); s != 0 {
		return Serial(s), nil
	}
	if !t.write {
		return 0, errNeedsWrite
	}
	user := Serial(t.tx.Name(keystore.NameUser, uidName(uid)))
	if user == 0 {
		r, err := t.newRegisteredKeyring(keystore.NameUser, fmt.Sprintf("_uid.%d", uid), uid)
		if err != nil {
			return 0, err
		}
		user = Serial(r.Serial)
	}
	ses := Serial(t.tx.Name(keystore.NameUserSession, uidName(uid)))
	if ses == 0 {
		r, err := t.newRegisteredKeyring(keystore.NameUserSession, fmt.Sprintf("_uid_ses.%d", uid), uid)
		if err != nil {
			return 0, err
		}
		ses = Serial(r.Serial)
		u, err := t.key(user)
		if err != nil {
			return 0, err
		}
		if err := t.checkQuota("keyctl_get_keyring_ID", ses, linkCharge(r, 1)); err != nil {
			return 0, err
		}
		if err := t.addLink(r, u); err != nil {
			return 0, err
		}
	}
	if kind == keystore.NameUser {
		return user, nil
	}
	return ses, nil
}

// newRegisteredKeyring makes a keyring held by a name in the registry.
func (t *txn) newRegisteredKeyring(kind keystore.NameKind, desc string, uid uint32) (*keystore.KeyRecord, error) {
	serial, err := t.tx.NewSerial()
	if err != nil {
		return nil, err
	}
	r := &keystore.KeyRecord{
		Serial:      serial,
		Type:        "keyring",
		Description: desc,
		UID:         uid,
		GID:         perms.InvalidGID,
		Perm:        uint32(perms.DefaultUserKeyring),
		Flags:       keystore.FlagInQuota,
		QuotaBytes:  uint32(len(desc)) + 1,
		CTime:       t.now,
		Pins:        1,
	}
	c := charge{uid: uid, keys: 1, bytes: int64(r.QuotaBytes)}
	if err := t.checkQuota("keyctl_get_keyring_ID", Serial(r.Serial), c); err != nil {
		return nil, err
	}
	if err := t.applyQuota(c); err != nil {
		return nil, err
	}
	if err := t.put(r); err != nil {
		return nil, err
	}
	return r, t.tx.PutName(kind, uidName(uid), r.Serial)
}

// makeUserKeyrings makes the caller's user keyrings, for a read-only
// operation that resolved one before it existed.
func (p *Process) makeUserKeyrings(ctx context.Context) error {
	return p.update(ctx, func(t *txn) error {
		_, err := t.userKeyring(keystore.NameUserSession)
		return err
	})
}

// userRegistry says which registry entry a keyring of description desc
// would be held by if it is a user, user-session or persistent keyring:
// the kind, and the uid its description names. A description never
// changes, an owner may (Chown), so the description is what tells the
// entry. Anyone may make a keyring with such a description; only the
// registry's serial tells whether it is the registered one.
func userRegistry(desc string) (kind keystore.NameKind, uid uint32, ok bool) {
	for _, reg := range [...]struct {
		prefix string
		kind   keystore.NameKind
	}{{"_uid.", keystore.NameUser}, {"_uid_ses.", keystore.NameUserSession}, {"_persistent.", keystore.NamePersistent}} {
		if rest, found := strings.CutPrefix(desc, reg.prefix); found {
			n, err := strconv.ParseUint(rest, 10, 32)
			if err != nil || uidName(uint32(n)) != rest {
				return 0, 0, false
			}
			return reg.kind, uint32(n), true
		}
	}
	return 0, 0, false
}
