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

// errNotFound is the search's "no key" (the kernel's EAGAIN): it unwraps
// to ENOKEY, which callers report, while request_key tells it from a
// negative key's ENOKEY, which it must not call out for.
var errNotFound error = notFoundError{}

type notFoundError struct{}

func (notFoundError) Error() string { return "no such key" }
func (notFoundError) Unwrap() error { return unix.ENOKEY }

// Search looks for a key of type typ and description desc in ring and the
// keyrings below it (KEYCTL_SEARCH), depth-first to MaxSearchDepth levels,
// descending only into keyrings that grant Search. ring needs Search. The
// first valid match wins; if there is none, the error of the last
// unusable match is returned (EKEYREVOKED, EKEYEXPIRED, EACCES, a negative
// key's error), else ENOKEY. If dest is not 0, the key found is linked into
// dest, which needs Write, and the key Link; that posts KeyLinked on dest.
func (p *Process) Search(ctx context.Context, ring Serial, typ, desc string, dest Serial) (Serial, error) {
	const op = "keyctl_search"
	if err := checkNames(typ, desc); err != nil {
		return 0, err
	}
	if err := p.create(ctx, dest); err != nil {
		return 0, err
	}
	if err := p.s.fresh(ctx); err != nil {
		return 0, err
	}
	if dest == 0 {
		if id, ok := p.cachedSearch(searchKey{ring, typ, desc}); ok {
			return id, nil
		}
		var found Serial
		err := p.read(ctx, func(t *txn) error {
			var err error
			if found, err = t.search(op, ring, typ, desc); err == nil {
				t.rememberSearch(searchKey{ring, typ, desc}, found)
			}
			return err
		})
		return found, err
	}
	var found Serial
	err := p.update(ctx, func(t *txn) (err error) {
		found, err = t.searchInto(ring, typ, desc, dest)
		return err
	})
	return found, err
}

// searchInto is a search that links what it finds into dest.
func (t *txn) searchInto(ring Serial, typ, desc string, dest Serial) (Serial, error) {
	const op = "keyctl_search"
	// The kernel looks the destination up right after the keyring, so
	// a bad destination wins over "not found".
	if _, err := t.lookup(op, ring, 0, perms.Search); err != nil {
		return 0, err
	}
	if _, err := t.lookup(op, dest, 0, perms.Write); err != nil {
		return 0, err
	}
	found, err := t.search(op, ring, typ, desc)
	if err != nil {
		return 0, err
	}
	return found, t.linkInto(op, found, dest)
}

// RequestKey is request_key(2) without callout information: it searches
// the caller's thread, process and session keyrings (the user-session
// keyring when it has no session), in that order, and under an assumed
// authority the requester's too. A key found wins; else a negative key's
// ENOKEY or "no key" (ENOKEY), then other errors (EACCES, EKEYREVOKED,
// ...); expired keys are passed over. A key found under construction is
// waited for. If dest is not 0 the key is linked there. See
// RequestKeyWithCallout.
func (p *Process) RequestKey(ctx context.Context, typ, desc string, dest Serial) (Serial, error) {
	id, _, err := p.requestKey(ctx, typ, desc, nil, false, dest)
	return id, err
}

// search is KEYCTL_SEARCH's search of one keyring.
func (t *txn) search(op string, ringID Serial, typ, desc string) (Serial, error) {
	return t.searchKeyring(op, ringID, typ, desc, false)
}

// searchKeyring is keyring_search_rcu: ring and the keyrings below it.
// With skipExpired (request_key's KEYRING_SEARCH_SKIP_EXPIRED), an expired
// key is passed over rather than remembered. A key under construction is
// found, as in the kernel, whose callers then wait for it; one whose
// construction ended with an earlier opening of the store is ENOKEY.
func (t *txn) searchKeyring(op string, ringID Serial, typ, desc string, skipExpired bool) (Serial, error) {
	ring, err := t.lookup(op, ringID, 0, perms.Search)
	if err != nil {
		return 0, err
	}
	if keyTypes[typ] == nil {
		return 0, fmt.Errorf("keyring: %s %s:%s: unknown key type: %w", op, typ, desc, unix.ENOKEY)
	}
	if !ring.IsKeyring() {
		return 0, errKey(op, ringID, unix.ENOTDIR, "not a keyring")
	}
	var found Serial
	remembered := errNotFound
	// consider is keyring_search_iterator: a candidate of the right type
	// and description is taken if usable, else its reason is remembered.
	consider := func(k *keystore.KeyRecord) bool {
		switch {
		case k.Flags&(keystore.FlagRevoked|keystore.FlagInvalidated) != 0:
			remembered = unix.EKEYREVOKED
		case k.Flags&keystore.FlagUnderConstruction != 0:
			if _, live := t.underConstruction(k); !live {
				remembered = unix.ENOKEY
				return true
			}
			if perms.Check(t.p.cred, ref{KeyRecord: k}.subject(), ring.possessed, perms.Search) != nil {
				remembered = unix.EACCES
				return true
			}
			found = Serial(k.Serial)
			return false
		case k.Expiry != 0 && t.now >= k.Expiry:
			if !skipExpired {
				remembered = unix.EKEYEXPIRED
			}
		case perms.Check(t.p.cred, ref{KeyRecord: k}.subject(), ring.possessed, perms.Search) != nil:
			remembered = unix.EACCES
		case k.Flags&keystore.FlagNegative != 0:
			remembered = unix.Errno(k.Reject)
		default:
			found = Serial(k.Serial)
			return false
		}
		return true
	}
	// search_nested_keyrings first asks whether the top keyring itself is
	// what is sought; a keyring can find itself.
	if typ == ring.Type && desc == ring.Description && !consider(ring.KeyRecord) {
		return found, nil
	}
	h := t.tx.DescHash(typ, desc)
	t.walkKeyrings(ring.KeyRecord, ring.possessed, func(kr *keystore.KeyRecord) bool {
		l, ok := t.tx.Lookup(kr.Serial, h)
		if !ok {
			return true
		}
		k, err := t.tx.Key(l.Key)
		// The description is compared too, though equal hashes mean equal
		// descriptions (see keystore.DescHash): it costs nothing here.
		if err != nil || k == nil || k.Type != typ || k.Description != desc {
			return true
		}
		return consider(k)
	})
	if found != 0 {
		return found, nil
	}
	if remembered == errNotFound {
		return 0, fmt.Errorf("keyring: %s %v for %s:%s: %w", op, ringID, typ, desc, errNotFound)
	}
	return 0, fmt.Errorf("keyring: %s %v for %s:%s: %w", op, ringID, typ, desc, remembered)
}

// linkInto links the found key into dest for Search and RequestKey.
func (t *txn) linkInto(op string, id, destID Serial) error {
	dest, err := t.lookup(op, destID, 0, perms.Write)
	if err != nil {
		return err
	}
	key, err := t.lookup(op, id, 0, perms.Link)
	if err != nil {
		return err
	}
	if err := t.link(op, key, dest); err != nil {
		return err
	}
	t.post(dest.serial(), watchqueue.KeyLinked, id)
	return nil
}

// cachedSearch answers a search from the process's cache: the same search
// found a key at the current graph revision, and neither the keyring
// searched nor the key found has changed since (their entries are not
// evicted) or expired (the one change that needs no commit).
func (p *Process) cachedSearch(k searchKey) (Serial, bool) {
	if k.ring <= 0 {
		return 0, false
	}
	hit, ok := p.cache.search(k, p.s.cache.currentGraph())
	if !ok {
		return 0, false
	}
	for _, ck := range []*cachedKey{hit.ring, hit.found} {
		if ck.evicted.Load() || !ck.usable(p.s) {
			return 0, false
		}
	}
	return Serial(hit.found.rec.Serial), true
}

// rememberSearch caches a successful read-only search, with the records
// cachedSearch checks, if nothing has been committed since its snapshot.
func (t *txn) rememberSearch(k searchKey, found Serial) {
	if t.write {
		return
	}
	var hit [2]*cachedKey
	for i, serial := range []Serial{k.ring, found} {
		r, err := t.key(serial)
		if err != nil {
			return
		}
		if hit[i] = t.remember(ref{KeyRecord: r, possessed: t.possesses(r)}, nil, false); hit[i] == nil {
			return
		}
	}
	if current, graphGen := t.s.cache.current(t.tx.Revision()); current {
		t.p.cache.setSearch(k, searchHit{ring: hit[0], found: hit[1]}, graphGen, t.roots)
	}
}
