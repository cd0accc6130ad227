//go:build linux

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
// changed. A named session lives, as the kernel's does, while a process
// has it as its session or a PinSession pin holds it (or a link to it):
// then it is collected, its name with it, and its quota is back. The
// registry of names holds no keyring alive. A name starting with '.' is
// EPERM. Joining the session the process already has returns 0, as the
// kernel does.
//
// A name is registered to one keyring at a time. A name another user's
// live session holds that the caller may not Search stays with that
// session: the caller gets a new keyring of that name, not registered.
// (In the kernel both would carry the name.)
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
		register := name != ""
		if name != "" {
			if s := Serial(t.tx.Name(keystore.NameSession, name)); s != 0 {
				r, err := t.key(s)
				if err != nil {
					return err
				}
				live := t.validate(op, s, r) == nil
				if live && perms.Check(t.p.cred, ref{KeyRecord: r}.subject(), false, perms.Search) == nil {
					joined = s
					return nil
				}
				// The name passes on from the caller's own keyring or a
				// dead one, which keeps its other holders. Another user's
				// live session keeps it: a name is no hold, but taking it
				// would let anyone hide that user's session from its own
				// processes' joins.
				if live && r.UID != t.p.cred.UID {
					register = false
				}
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
		if register {
			if err := t.tx.PutName(keystore.NameSession, name, r.Serial); err != nil {
				return err
			}
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
// parent. The kernel gives a process a session keyring only by
// inheritance or by joining it by name, and serials are no secret, so id
// must be a keyring the caller could have been given so:
//
//   - one of its own sessions handed down: a keyring of the caller's uid
//     that a process of the store has as its session now (what a forked
//     child inherits), that is pinned as a session (PinSession, which
//     only the owner may do), or that is registered as a named session
//     (JoinSession); or
//   - a keyring of the caller's uid that grants it Search without
//     possession, which the kernel would let it join by name: its @u and
//     @us among them (the kernel's join finds them under their names, and
//     makes @us the session of a process that has none).
//
// Anything else is EACCES, for uid 0 as well: the kernel's root gets
// another user's session only by joining it by name, which JoinSession
// governs. A missing, revoked or expired keyring fails as the kernel's
// lookup does (ENOKEY, EKEYREVOKED, EKEYEXPIRED), before the permission;
// a key of the caller's own that is not a keyring is ENOTDIR.
func (p *Process) AdoptSession(ctx context.Context, id Serial) error {
	const op = "adopt_session"
	err := p.read(ctx, func(t *txn) error {
		r, err := t.key(id)
		if err != nil {
			return err
		}
		if err := t.validate(op, id, r); err != nil {
			return err
		}
		if r.UID != t.p.cred.UID {
			return errKey(op, id, unix.EACCES, "another user's keyring")
		}
		if !r.IsKeyring() {
			return errKey(op, id, unix.ENOTDIR, "not a keyring")
		}
		if t.isSession(r) || perms.Check(t.p.cred, ref{KeyRecord: r}.subject(), false, perms.Search) == nil {
			return nil
		}
		return errKey(op, id, unix.EACCES, "neither a session handed down nor searchable")
	})
	if err != nil {
		return err
	}
	return p.adopt(ctx, id)
}

// isSession reports whether r is a session keyring that its owner can
// hand down: one a process of the store has as its session now (what a
// forked child would inherit), one pinned as a session, or a registered
// named session. For a keyring of the caller's own uid, each says that a
// process of that uid had it as its session: only the owner may pin
// (PinSession), a named session is registered to the uid that made it
// (JoinSession), and the only ways into a session are join and adoption.
func (t *txn) isSession(r *keystore.KeyRecord) bool {
	return r.IsKeyring() && (t.s.isLiveSession(Serial(r.Serial)) || t.sessionPins(r) > 0 ||
		t.tx.Name(keystore.NameSession, r.Description) == r.Serial)
}

// sessionPins is how many of r's pins PinSession took: its pins less
// the one the registry of user keyrings holds. (A store made before named
// sessions stopped being held by their name counts that old hold as a
// pin, which the owner may then take off.)
func (t *txn) sessionPins(r *keystore.KeyRecord) uint32 {
	held := uint32(0)
	if kind, uid, ok := userRegistry(r.Description); ok && t.tx.Name(kind, uidName(uid)) == r.Serial {
		held++
	}
	if r.Pins < held {
		return 0
	}
	return r.Pins - held
}

// adopt holds id as the session and lets go of the old one.
func (p *Process) adopt(ctx context.Context, id Serial) error {
	p.s.hold(id)
	p.s.enterSession(id)
	p.mu.Lock()
	old := p.session
	p.session = id
	p.mu.Unlock()
	p.cache.rootsChanged()
	if old != 0 {
		p.s.leaveSession(old)
		return p.s.release(ctx, old)
	}
	return nil
}

// enterSession and leaveSession count the processes that have id as their
// session, for isSession; the key hold itself is Store.hold's.
func (s *Store) enterSession(id Serial) {
	s.mu.Lock()
	s.sessions[id]++
	s.mu.Unlock()
}

func (s *Store) leaveSession(id Serial) {
	if id == 0 {
		return
	}
	s.mu.Lock()
	if s.sessions[id]--; s.sessions[id] <= 0 {
		delete(s.sessions, id)
	}
	s.mu.Unlock()
}

// isLiveSession reports whether a process of the store has id as its
// session now.
func (s *Store) isLiveSession(id Serial) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[id] > 0
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
//
// Only the session's owner may pin it, else EACCES: a pin says "handed down
// by its owner" (AdoptSession trusts it), and it is stored without a record
// of who took it, so a pin by anyone else could neither be told apart nor
// taken back by them. A process in another user's named session, which
// the kernel lets it join if that user opened it to Search, keeps it only
// while it holds it.
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
		if r.UID != t.p.cred.UID {
			return errKey(op, id, unix.EACCES, "another user's session")
		}
		r.Pins++
		return t.put(r)
	})
}

// UnpinSession lets go of a hold PinSession took on session keyring id. A
// session that nothing holds any more is collected. Only the keyring's
// owner may unpin it (EACCES), and only pins PinSession took (EINVAL): the
// registry's own hold on a user, user-session, persistent or named session
// keyring is not a pin to take off.
func (p *Process) UnpinSession(ctx context.Context, id Serial) error {
	const op = "unpin_session"
	return p.update(ctx, func(t *txn) error {
		r, err := t.key(id)
		if err != nil {
			return err
		}
		if r.UID != t.p.cred.UID {
			return errKey(op, id, unix.EACCES, "another user's keyring")
		}
		if !r.IsKeyring() || t.sessionPins(r) == 0 {
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
