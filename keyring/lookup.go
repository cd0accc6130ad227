//go:build linux

package keyring

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keystore"
	"github.com/keyctl-go/keyctl-go/perms"
)

// lookupFlags select how lookup treats a key's state, as the kernel's
// KEY_LOOKUP_* flags and KEY_DEFER_PERM_CHECK do.
type lookupFlags uint8

const (
	// lookupPartial accepts negative keys: only key_validate's checks
	// (invalidated, revoked, expired) apply.
	lookupPartial lookupFlags = 1 << iota
	// lookupDeferPerm skips the state and permission checks: the operation
	// makes its own (read, unlink).
	lookupDeferPerm
)

// ref is a key found by lookup: its record, and whether the caller
// possesses it (which adds the possessor byte to what it is granted).
type ref struct {
	*keystore.KeyRecord
	possessed bool
}

func (r ref) serial() Serial { return Serial(r.Serial) }

func (r ref) subject() perms.Subject {
	return perms.Subject{UID: r.UID, GID: r.GID, Mask: perms.Mask(r.Perm)}
}

// lookup is lookup_user_key: resolve id (a serial or a special id), check
// the key's state as flags say, then check that the caller is granted need.
func (t *txn) lookup(op string, id Serial, flags lookupFlags, need perms.Perm) (ref, error) {
	serial, special, err := t.resolve(op, id)
	if err != nil {
		return ref{}, err
	}
	r, err := t.key(serial)
	if err != nil {
		return ref{}, errKey(op, id, unix.ENOKEY, "")
	}
	k := ref{KeyRecord: r, possessed: special || t.possesses(r)}
	if flags&lookupPartial == 0 && r.Flags&keystore.FlagUnderConstruction != 0 {
		// The kernel waits for the key's construction, then looks again.
		if c, live := t.underConstruction(r); live {
			return ref{}, &constructionPending{c}
		}
		return ref{}, errKey(op, id, unix.ENOKEY, "its construction ended with an earlier opening of the store")
	}
	if flags&lookupDeferPerm != 0 {
		return k, nil
	}
	if flags&lookupPartial == 0 && r.Flags&keystore.FlagNegative != 0 {
		return ref{}, errKey(op, id, unix.Errno(r.Reject), "negative key")
	}
	if err := t.validate(op, id, r); err != nil {
		return ref{}, err
	}
	if err := t.permit(op, id, k, need); err != nil {
		return ref{}, err
	}
	return k, nil
}

// validate is key_validate: invalidated is ENOKEY, revoked EKEYREVOKED,
// expired EKEYEXPIRED. A key under construction does not expire: its
// Expiry is the store's deadline for the construction (construct.go).
func (t *txn) validate(op string, id Serial, r *keystore.KeyRecord) error {
	switch {
	case r.Flags&keystore.FlagInvalidated != 0:
		return errKey(op, id, unix.ENOKEY, "invalidated")
	case r.Flags&keystore.FlagRevoked != 0:
		return errKey(op, id, unix.EKEYREVOKED, "")
	case r.Flags&keystore.FlagUnderConstruction != 0:
		return nil
	case r.Expiry != 0 && t.now >= r.Expiry:
		return errKey(op, id, unix.EKEYEXPIRED, "")
	}
	return nil
}

// permit checks the caller is granted need on k.
func (t *txn) permit(op string, id Serial, k ref, need perms.Perm) error {
	if err := perms.Check(t.p.cred, k.subject(), k.possessed, need); err != nil {
		return fmt.Errorf("keyring: %s %v: %w", op, id, err)
	}
	return nil
}

// resolve turns a special id into the serial it names for the caller,
// creating the user keyrings on first use, as the kernel does.
func (t *txn) resolve(op string, id Serial) (serial Serial, special bool, err error) {
	switch {
	case id > 0:
		return id, false, nil
	case id == SessionKeyring:
		if s := t.p.sessionKeyring(); s != 0 {
			return s, true, nil
		}
		s, err := t.userKeyring(keystore.NameUserSession)
		return s, true, err
	case id == UserKeyring:
		s, err := t.userKeyring(keystore.NameUser)
		return s, true, err
	case id == UserSessionKeyring:
		s, err := t.userKeyring(keystore.NameUserSession)
		return s, true, err
	case id == ThreadKeyring, id == ProcessKeyring:
		// Made beforehand by operations that create them (Process.create);
		// a missing one is ENOKEY, as the kernel says without
		// KEY_LOOKUP_CREATE.
		t.p.mu.Lock()
		s := t.p.thread
		if id == ProcessKeyring {
			s = t.p.process
		}
		t.p.mu.Unlock()
		if s == 0 {
			return 0, false, errKey(op, id, unix.ENOKEY, "the process has none")
		}
		return s, true, nil
	case id == ReqKeyAuthKey, id == RequestorKeyring:
		return t.resolveAuthority(op, id)
	default:
		return 0, false, errKey(op, id, unix.EINVAL, "not a key id")
	}
}

// possesses reports whether the caller possesses r: r is, or is reachable
// from, the caller's thread, process or session keyring (the user-session
// keyring when it has no session), through keyrings that grant it Search,
// no deeper than the kernel searches; and r itself grants Search (counting
// the possessor byte). Under an assumed authority, what its requester
// possesses counts too.
func (t *txn) possesses(r *keystore.KeyRecord) bool {
	// A transaction that reads many keys (a Tx listing a cache) would walk
	// the same keyrings for each: the answer is kept for as long as the
	// graph is unchanged, which the store's graph generation tells, since
	// every change to links, masks and owners advances it before the
	// commit, in this transaction as in any other.
	gen := t.s.cache.currentGraph()
	if m, ok := t.possessed[r.Serial]; ok && m.gen == gen {
		return m.yes
	}
	yes := t.walkPossession(r)
	if t.possessed == nil {
		t.possessed = make(map[uint32]possession)
	}
	t.possessed[r.Serial] = possession{gen: gen, yes: yes}
	return yes
}

// possession is a possesses answer and the graph generation it holds for.
type possession struct {
	gen uint64
	yes bool
}

func (t *txn) walkPossession(r *keystore.KeyRecord) bool {
	target := ref{KeyRecord: r, possessed: true}
	if perms.Check(t.p.cred, target.subject(), true, perms.Search) != nil {
		return false
	}
	h := t.tx.RecordHash(r)
	roots, rings := t.possessionRings()
	for _, start := range roots {
		if Serial(r.Serial) == start {
			return true
		}
	}
	for _, ring := range rings {
		if l, ok := t.tx.Lookup(ring, h); ok && l.Key == r.Serial {
			return true
		}
	}
	return t.possessedThroughAuthority(r)
}

// possessionRings returns the search roots and every keyring the walk
// from them reaches (walkKeyrings from each root the caller may Search,
// possessed), which possession looks for a key in; kept for the
// transaction while the graph is unchanged, so that checking many keys
// walks the tree once.
func (t *txn) possessionRings() (roots []Serial, rings []uint32) {
	gen := t.s.cache.currentGraph()
	if w := t.reach; w != nil && w.gen == gen {
		return w.roots, w.rings
	}
	roots = t.searchRoots()
	seen := make(map[uint32]bool)
	for _, start := range roots {
		root, err := t.key(start)
		if err != nil || perms.Check(t.p.cred, ref{KeyRecord: root}.subject(), true, perms.Search) != nil {
			continue
		}
		t.walkKeyrings(root, true, func(ring *keystore.KeyRecord) bool {
			if !seen[ring.Serial] {
				seen[ring.Serial] = true
				rings = append(rings, ring.Serial)
			}
			return true
		})
	}
	t.reach = &reach{gen: gen, roots: roots, rings: rings}
	return roots, rings
}

// reach is what possessionRings found, and the graph generation it holds
// for.
type reach struct {
	gen   uint64
	roots []Serial
	rings []uint32
}

// walkKeyrings visits root and the keyrings below it depth-first, as the
// kernel's search_nested_keyrings descends: only into keyrings that are
// neither revoked nor invalidated and that grant the caller Search
// (counting the possessor byte if the walk started from a possessed
// keyring), and no more than MaxSearchDepth levels below root. The caller
// has checked root's own permission. visit returns false to stop. Child
// keyrings are visited in the order they were linked (the kernel's
// follow its hash of their descriptions).
//
// Like the kernel, it keeps no set of keyrings already visited: one met at
// the depth limit by one path must still be searched below when met
// higher up by another. The depth limit bounds the walk, and Link refuses
// cycles.
func (t *txn) walkKeyrings(root *keystore.KeyRecord, possessed bool, visit func(*keystore.KeyRecord) bool) {
	var walk func(ring *keystore.KeyRecord, depth int) bool
	walk = func(ring *keystore.KeyRecord, depth int) bool {
		if ring.Flags&(keystore.FlagRevoked|keystore.FlagInvalidated) != 0 {
			return true
		}
		if !visit(ring) {
			return false
		}
		if depth == MaxSearchDepth {
			return true
		}
		for l := range t.tx.ChildKeyrings(ring.Serial) {
			child, err := t.tx.Key(l.Key)
			if err != nil || child == nil {
				continue
			}
			if perms.Check(t.p.cred, ref{KeyRecord: child}.subject(), possessed, perms.Search) != nil {
				continue
			}
			if !walk(child, depth+1) {
				return false
			}
		}
		return true
	}
	walk(root, 0)
}

func uidName(uid uint32) string { return fmt.Sprint(uid) }
