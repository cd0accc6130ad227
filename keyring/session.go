package keyring

import (
	"context"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keystore"
	"github.com/keyctl-go/keyctl-go/perms"
)

// JoinSession gives the process a session keyring (KEYCTL_JOIN_SESSION_KEYRING)
// and returns its serial. With name "" it is a new anonymous keyring, _ses,
// which lives while the process holds it. With a name it is the registered
// session keyring of that name if the caller may Search it (not counting
// possession), else a new one that takes over the name: the default mask of
// a named session, 0x3f130000, gives its owner no Search, so, as in the
// kernel, joining by name again makes a new keyring unless the mask is
// changed. Named sessions persist here (the kernel's last as long as a
// process holds them), so other processes can join them. A name starting
// with '.' is EPERM. Joining the session the process already has returns
// 0, as the kernel does.
func (p *Process) JoinSession(ctx context.Context, name string) (Serial, error) {
	const op = "keyctl_join_session_keyring"
	// The kernel copies the name in (EINVAL) before it looks at it.
	if err := checkDescription(name); err != nil {
		return 0, err
	}
	if name != "" && name[0] == '.' {
		return 0, fmt.Errorf("keyring: %s %q: reserved name: %w", op, name, unix.EPERM)
	}
	var joined Serial
	err := p.update(ctx, func(t *txn) error {
		var displaced *keystore.KeyRecord
		if name != "" {
			if s := Serial(t.tx.Name(keystore.NameSession, name)); s != 0 {
				r, err := t.key(s)
				if err != nil {
					return err
				}
				if t.validate(op, s, r) == nil && perms.Check(t.p.cred, ref{KeyRecord: r}.subject(), false, perms.Search) == nil {
					joined = s
					return nil
				}
				displaced = r
			}
		}
		serial, err := t.tx.NewSerial()
		if err != nil {
			return err
		}
		r := &keystore.KeyRecord{
			Serial:      serial,
			Type:        "keyring",
			Description: "_ses",
			UID:         t.p.cred.UID,
			GID:         t.p.cred.GID,
			Perm:        uint32(perms.DefaultSessionKeyring),
			Flags:       keystore.FlagInQuota,
			CTime:       t.now,
		}
		if name != "" {
			r.Description = name
			r.Perm = uint32(perms.DefaultNamedSessionKeyring)
			r.Pins = 1
		}
		r.QuotaBytes = uint32(len(r.Description)) + 1
		c := charge{uid: r.UID, keys: 1, bytes: int64(r.QuotaBytes)}
		if err := t.checkQuota(op, 0, c); err != nil {
			return err
		}
		if err := t.applyQuota(c); err != nil {
			return err
		}
		if err := t.put(r); err != nil {
			return err
		}
		if name != "" {
			if err := t.tx.PutName(keystore.NameSession, name, r.Serial); err != nil {
				return err
			}
		}
		if displaced != nil {
			// The name moved on: the old keyring keeps only its other holders.
			displaced.Pins--
			if err := t.put(displaced); err != nil {
				return err
			}
			t.dropped = append(t.dropped, Serial(displaced.Serial))
		}
		joined = Serial(r.Serial)
		return nil
	})
	if err != nil {
		return 0, err
	}
	if joined == p.sessionKeyring() {
		return 0, nil
	}
	return joined, p.adopt(ctx, joined)
}

// AdoptSession makes id the process's session keyring: the way a session
// is handed down to child processes, which learn its serial from their
// parent. It must be a keyring.
func (p *Process) AdoptSession(ctx context.Context, id Serial) error {
	const op = "adopt_session"
	err := p.read(ctx, func(t *txn) error {
		r, err := t.key(id)
		if err != nil {
			return err
		}
		if !r.IsKeyring() {
			return errKey(op, id, unix.ENOTDIR, "not a keyring")
		}
		return t.validate(op, id, r)
	})
	if err != nil {
		return err
	}
	return p.adopt(ctx, id)
}

// adopt holds id as the session and lets go of the old one.
func (p *Process) adopt(ctx context.Context, id Serial) error {
	p.s.hold(id)
	p.mu.Lock()
	old := p.session
	p.session = id
	p.mu.Unlock()
	if old != 0 {
		return p.s.release(ctx, old)
	}
	return nil
}

// KeyringID returns the serial a key id names (KEYCTL_GET_KEYRING_ID),
// which is how special ids are resolved: @s, @u, @us, and @t and @p if
// the process has them. The key needs Search. See GetKeyringID to make
// thread and process keyrings on the way.
func (p *Process) KeyringID(ctx context.Context, id Serial) (Serial, error) {
	return p.GetKeyringID(ctx, id, false)
}

// GetKeyringID is KEYCTL_GET_KEYRING_ID with its create flag: with create,
// a missing thread or process keyring is made, as the kernel makes it.
func (p *Process) GetKeyringID(ctx context.Context, id Serial, create bool) (Serial, error) {
	if create {
		if err := p.create(ctx, id); err != nil {
			return 0, err
		}
	}
	var serial Serial
	err := p.read(ctx, func(t *txn) error {
		k, err := t.lookup("keyctl_get_keyring_ID", id, 0, perms.Search)
		if err != nil {
			return err
		}
		serial = k.serial()
		return nil
	})
	return serial, err
}

// Capability bits (KEYCTL_CAPS0_*, KEYCTL_CAPS1_*).
const (
	Caps0Capabilities    = 0x01
	Caps0Persistent      = 0x02
	Caps0BigKey          = 0x10
	Caps0Invalidate      = 0x20
	Caps0RestrictKeyring = 0x40
	Caps0Move            = 0x80
	Caps1Notifications   = 0x04
)

// Capabilities returns what this store supports, as KEYCTL_CAPABILITIES
// reports it: two bytes of flags. Diffie-Hellman, public keys and
// namespaces are not offered.
func Capabilities() []byte {
	return []byte{Caps0Capabilities | Caps0Persistent | Caps0BigKey | Caps0Invalidate | Caps0RestrictKeyring | Caps0Move, Caps1Notifications}
}

// PinSession keeps the process's session keyring alive without the
// process: a stored hold, so that processes started later, which open the
// store themselves and adopt the session by serial (AdoptSession), find it
// there. It returns the session's serial. Each PinSession needs an
// UnpinSession; until then an anonymous session outlives every process,
// even a crash. A process with no session keyring is ENOKEY.
//
// This is how a session is handed to a tree of processes, which the kernel
// does by inheritance: `keyctl-go session` pins the session it joins while
// its child runs.
func (p *Process) PinSession(ctx context.Context) (Serial, error) {
	const op = "pin_session"
	id := p.sessionKeyring()
	if id == 0 {
		return 0, errKey(op, SessionKeyring, unix.ENOKEY, "the process has no session keyring")
	}
	return id, p.update(ctx, func(t *txn) error {
		r, err := t.key(id)
		if err != nil {
			return err
		}
		r.Pins++
		return t.put(r)
	})
}

// UnpinSession lets go of a hold PinSession took on session keyring id. A
// session that nothing holds any more is collected.
func (p *Process) UnpinSession(ctx context.Context, id Serial) error {
	const op = "unpin_session"
	return p.update(ctx, func(t *txn) error {
		r, err := t.key(id)
		if err != nil {
			return err
		}
		if !r.IsKeyring() || r.Pins == 0 {
			return errKey(op, id, unix.EINVAL, "not a pinned keyring")
		}
		r.Pins--
		if err := t.put(r); err != nil {
			return err
		}
		t.dropped = append(t.dropped, id)
		return nil
	})
}
