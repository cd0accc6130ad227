//go:build linux

package krb5ring

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/ccache"
	"github.com/keyctl-go/keyctl-go/keyring"
)

// Descriptions and types of the keys MIT's KEYRING cache uses.
const (
	primaryKey  = "krb_ccache:primary"    // user key in the collection: which cache is primary
	princKey    = "__krb5_princ__"        // user key in a cache: its default principal
	offsetsKey  = "__krb5_time_offsets__" // user key in a cache: the KDC time offset
	typeKeyring = "keyring"
	typeUser    = "user"
	typeBigKey  = "big_key"

	// uniquePrefix and uniqueRandChars make the names of caches after the
	// first: krb_ccache_ and 7 characters of [0-9a-zA-Z] (MIT's 8-byte
	// buffer counts the NUL).
	uniquePrefix    = "krb_ccache_"
	uniqueRandChars = 7
	// uniqueTries is how many random names MIT tries before giving up.
	uniqueTries = 100
)

// Options are what a Collection needs besides the store. The zero value
// uses the system clock and crypto/rand.
type Options struct {
	// Now is the clock timeouts are computed from (a credential key
	// expires at the ticket's endtime); nil means time.Now.
	Now func() time.Time
	// Rand supplies the random characters of new cache names and of the
	// keyrings Replace builds them in; nil means crypto/rand.Reader.
	Rand io.Reader
}

func (o *Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o *Options) rand() io.Reader {
	if o.Rand != nil {
		return o.Rand
	}
	return rand.Reader
}

// Collection is a resolved KEYRING collection: its keyring (_krb_NAME, or
// _krb in a persistent keyring) and its krb_ccache:primary key, found or
// made as MIT's resolve does. It acts through a keyring.Caller, so it works
// on a store of the program's own and over the daemon alike. A Collection
// is not safe for concurrent use; the store it acts on is.
type Collection struct {
	c       keyring.Caller
	name    Name
	anchor  keyring.Serial // the anchor keyring; legacy caches are linked here too
	ring    keyring.Serial // the collection keyring
	primary keyring.Serial // krb_ccache:primary
	opts    Options
}

// Open resolves the collection of name (a cache name's subsidiary part is
// ignored), making the collection keyring and its primary pointer if
// missing, as any MIT tool does on first use. It does not make a cache.
//
// For user and persistent collections, the collection keyring is also
// linked into the caller's process keyring, as MIT does: that link is
// what gives the caller possession, which MIT's permissions (possessor
// all, owner view only) require.
func Open(ctx context.Context, c keyring.Caller, name Name, opts Options) (*Collection, error) {
	col := &Collection{c: c, name: name.CollectionName(), opts: opts}
	err := col.atomically(ctx, func(col *Collection) error { return col.resolve(ctx) }, col)
	if err != nil {
		return nil, fmt.Errorf("krb5ring: open %s: %w", col.name, err)
	}
	return col, nil
}

// With returns the collection acting through c instead, with what Open
// resolved: for a keyring.Tx, so that several steps form one transaction.
// The keyrings it names must still be there when c acts; if they are
// not, its calls fail as they would on a collection removed meanwhile.
func (col *Collection) With(c keyring.Caller) *Collection {
	dup := *col
	dup.c = c
	return &dup
}

// atomically runs fn on the collection in one transaction when its
// Caller can make one (a keyring.Process, or a Tx already running), and
// as separate calls otherwise (a daemon client). Whatever fn resolves
// about the collection (its keyrings, its primary pointer) is copied back
// into keep, if not nil, once it has committed.
func (col *Collection) atomically(ctx context.Context, fn func(*Collection) error, keep *Collection) error {
	a, ok := col.c.(keyring.Atomizer)
	if !ok {
		return fn(col)
	}
	var done *Collection
	err := a.Atomic(ctx, func(tx *keyring.Tx) error {
		done = col.With(tx)
		return fn(done)
	})
	if err == nil && keep != nil {
		keep.anchor, keep.ring, keep.primary = done.anchor, done.ring, done.primary
	}
	return err
}

// Name returns the collection's name.
func (col *Collection) Name() Name { return col.name }

// Keyring returns the serial of the collection keyring.
func (col *Collection) Keyring() keyring.Serial { return col.ring }

// PrimaryKey returns the serial of the krb_ccache:primary key.
func (col *Collection) PrimaryKey() keyring.Serial { return col.primary }

// resolve finds or makes the collection keyring and the primary pointer
// (MIT's get_collection and get_primary_name).
func (col *Collection) resolve(ctx context.Context) error {
	anchor, possess, err := col.anchorKeyring(ctx)
	if err != nil {
		return err
	}
	col.anchor = anchor
	ring, err := col.findOrCreateKeyring(ctx, anchor, possess, col.name.collectionKeyring())
	if err != nil {
		return err
	}
	col.ring = ring
	return col.resolvePrimary(ctx)
}

// anchorKeyring returns the keyring the collection lives in, as a real
// serial, and the keyring the collection must also be linked into for
// possession (0 for none).
func (col *Collection) anchorKeyring(ctx context.Context) (anchor, possess keyring.Serial, err error) {
	var special keyring.Serial
	switch col.name.Anchor {
	case AnchorPersistent:
		uid := keyring.OwnUID
		if col.name.Collection != "" {
			if uid, err = col.name.uid(); err != nil {
				return 0, 0, err
			}
		}
		id, err := col.c.GetPersistent(ctx, uid, keyring.ProcessKeyring)
		if err != nil {
			return 0, 0, fmt.Errorf("%w %d: %w", ErrInvalidUID, uid, err)
		}
		return id, keyring.ProcessKeyring, nil
	case AnchorUser:
		special, possess = keyring.UserKeyring, keyring.ProcessKeyring
	case AnchorProcess:
		special = keyring.ProcessKeyring
	case AnchorThread:
		special = keyring.ThreadKeyring
	case AnchorSession, AnchorLegacy:
		if special, err = col.sessionWriteAnchor(ctx); err != nil {
			return 0, 0, err
		}
	default:
		return 0, 0, fmt.Errorf("%w %q", ErrInvalidAnchor, col.name.Anchor)
	}
	anchor, err = col.c.GetKeyringID(ctx, special, true)
	if err != nil {
		return 0, 0, fmt.Errorf("anchor %s: %w", col.name.Anchor, err)
	}
	return anchor, possess, nil
}

// sessionWriteAnchor is the session anchor MIT writes to: the
// user-session keyring by its own id when the session keyring is that
// keyring, so that writing never makes a private session keyring.
func (col *Collection) sessionWriteAnchor(ctx context.Context) (keyring.Serial, error) {
	s, err := col.c.KeyringID(ctx, keyring.SessionKeyring)
	if err != nil {
		return 0, fmt.Errorf("session keyring: %w", err)
	}
	u, err := col.c.KeyringID(ctx, keyring.UserSessionKeyring)
	if err != nil {
		return 0, fmt.Errorf("user-session keyring: %w", err)
	}
	if s == u {
		return keyring.UserSessionKeyring, nil
	}
	return keyring.SessionKeyring, nil
}

// notThere reports whether a search error means MIT would make the key:
// nothing found, or only a dead key found.
func notThere(err error) bool {
	return errors.Is(err, unix.ENOKEY) || errors.Is(err, unix.EKEYEXPIRED) || errors.Is(err, unix.EKEYREVOKED)
}

// findOrCreateKeyring is MIT's find_or_create_keyring: search parent (and
// below) for the keyring, linking what it finds into possess; make it in
// possess and link it into parent if missing.
func (col *Collection) findOrCreateKeyring(ctx context.Context, parent, possess keyring.Serial, name string) (keyring.Serial, error) {
	id, err := col.c.Search(ctx, parent, typeKeyring, name, possess)
	if err == nil {
		return id, nil
	}
	if !notThere(err) {
		return 0, fmt.Errorf("search %d for keyring %q: %w", parent, name, err)
	}
	if possess == 0 {
		id, err := col.c.Add(ctx, typeKeyring, name, nil, parent)
		if err != nil {
			return 0, fmt.Errorf("add keyring %q to %d: %w", name, parent, err)
		}
		return id, nil
	}
	if id, err = col.c.Add(ctx, typeKeyring, name, nil, possess); err != nil {
		return 0, fmt.Errorf("add keyring %q: %w", name, err)
	}
	if err := col.c.Link(ctx, id, parent); err != nil {
		return 0, fmt.Errorf("link keyring %q into %d: %w", name, parent, err)
	}
	return id, nil
}

// resolvePrimary finds krb_ccache:primary or makes it naming the default
// cache; for a legacy collection a new pointer also adopts a cache keyring
// of that name that pre-1.12 code left in the session keyring.
func (col *Collection) resolvePrimary(ctx context.Context) error {
	id, err := col.c.Search(ctx, col.ring, typeUser, primaryKey, 0)
	if err == nil {
		col.primary = id
		return nil
	}
	if !notThere(err) {
		return fmt.Errorf("search %d for %s: %w", col.ring, primaryKey, err)
	}
	sub := col.name.defaultPrimary()
	if id, err = col.c.Add(ctx, typeUser, primaryKey, encodePrimary(sub), col.ring); err != nil {
		return fmt.Errorf("add %s: %w", primaryKey, err)
	}
	col.primary = id
	if col.name.Anchor == AnchorLegacy {
		old, err := col.c.Search(ctx, keyring.SessionKeyring, typeKeyring, sub, 0)
		if err == nil {
			if err := col.c.Link(ctx, old, col.ring); err != nil {
				return fmt.Errorf("adopt legacy cache %d: %w", old, err)
			}
		}
	}
	return nil
}

// Primary returns the name of the primary cache: the subsidiary that
// krb_ccache:primary names. The cache it names need not exist.
func (col *Collection) Primary(ctx context.Context) (string, error) {
	b, err := col.c.Read(ctx, col.primary)
	if notThere(err) {
		// Unlinked or expired since Open: find or make it again, as the
		// next MIT tool to resolve the collection would.
		if err = col.resolvePrimary(ctx); err == nil {
			b, err = col.c.Read(ctx, col.primary)
		}
	}
	if err != nil {
		return "", fmt.Errorf("krb5ring: %s: read %s: %w", col.name, primaryKey, err)
	}
	sub, err := decodePrimary(b)
	if err != nil {
		return "", fmt.Errorf("krb5ring: %s: %w", col.name, err)
	}
	return sub, nil
}

// Switch makes sub the primary cache (kswitch). Like MIT it rewrites
// krb_ccache:primary in place, so the key keeps its serial and its
// watchers see one update; it does not check that the cache exists.
func (col *Collection) Switch(ctx context.Context, sub string) error {
	if sub == "" {
		return fmt.Errorf("krb5ring: switch %s: %w", col.name, ErrEmptySubsidiary)
	}
	id, err := col.c.Add(ctx, typeUser, primaryKey, encodePrimary(sub), col.ring)
	if err != nil {
		return fmt.Errorf("krb5ring: switch %s to %q: %w", col.name, sub, err)
	}
	col.primary = id
	return nil
}

// Cache returns the cache sub of the collection, whether or not it exists
// yet.
func (col *Collection) Cache(sub string) *Cache { return &Cache{col: col, sub: sub} }

// PrimaryCache returns the primary cache, whether or not it exists yet.
func (col *Collection) PrimaryCache(ctx context.Context) (*Cache, error) {
	sub, err := col.Primary(ctx)
	if err != nil {
		return nil, err
	}
	return col.Cache(sub), nil
}

// Caches returns the caches of the collection in the order MIT's
// collection cursor gives them: the primary first if it exists, then the
// others in the order the collection keyring lists them.
func (col *Collection) Caches(ctx context.Context) ([]*Cache, error) {
	primary, err := col.Primary(ctx)
	if err != nil {
		return nil, err
	}
	ms, err := members(ctx, col.c, col.ring)
	if err != nil {
		return nil, fmt.Errorf("krb5ring: list %s: %w", col.name, err)
	}
	var caches, rest []*Cache
	for _, m := range ms {
		if m.typ != typeKeyring {
			continue
		}
		if m.desc == primary {
			caches = append(caches, col.Cache(m.desc))
		} else {
			rest = append(rest, col.Cache(m.desc))
		}
	}
	return append(caches, rest...), nil
}

// Match returns the cache whose default principal is princ
// (krb5_cc_cache_match: realm and components compared, name type not), or
// an error wrapping ErrNotFound.
func (col *Collection) Match(ctx context.Context, princ ccache.Principal) (*Cache, error) {
	caches, err := col.Caches(ctx)
	if err != nil {
		return nil, err
	}
	for _, k := range caches {
		p, err := k.Principal(ctx)
		if err != nil {
			continue // uninitialised, or vanished meanwhile
		}
		if samePrincipal(p, princ) {
			return k, nil
		}
	}
	return nil, fmt.Errorf("krb5ring: %s: no cache for %s: %w", col.name, princ, ErrNotFound)
}

func samePrincipal(p, q ccache.Principal) bool {
	p.NameType, q.NameType = 0, 0
	return p.Equal(q)
}

// uniqueName picks a cache name MIT's unique_keyring could have made that
// the collection does not hold now.
func (col *Collection) uniqueName(ctx context.Context) (string, error) {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	var b [uniqueRandChars]byte
	for range uniqueTries {
		if _, err := io.ReadFull(col.opts.rand(), b[:]); err != nil {
			return "", fmt.Errorf("krb5ring: random cache name: %w", err)
		}
		for i := range b {
			// 256 = 4*62 + 8: the bias towards the first 8 characters is
			// MIT's too (krb5int_random_string takes bytes mod 62).
			b[i] = alphabet[int(b[i])%len(alphabet)]
		}
		name := uniquePrefix + string(b[:])
		if _, err := col.c.Search(ctx, col.ring, typeKeyring, name, 0); notThere(err) {
			return name, nil
		}
	}
	return "", fmt.Errorf("krb5ring: %s: no free cache name in %d tries", col.name, uniqueTries)
}

// NewUnique makes a new, empty cache keyring with a unique name in the
// collection (krb5_cc_new_unique). The cache has no principal until it is
// initialized.
func (col *Collection) NewUnique(ctx context.Context) (*Cache, error) {
	if _, ok := col.c.(keyring.Atomizer); ok {
		// In one transaction nobody can take the name between the look
		// and the add.
		var name string
		err := col.atomically(ctx, func(col *Collection) (err error) {
			if name, err = col.uniqueName(ctx); err != nil {
				return err
			}
			_, err = col.c.Add(ctx, typeKeyring, name, nil, col.ring)
			return err
		}, nil)
		if err != nil {
			return nil, fmt.Errorf("krb5ring: new cache in %s: %w", col.name, err)
		}
		return col.Cache(name), nil
	}
	for range uniqueTries {
		name, err := col.uniqueName(ctx)
		if err != nil {
			return nil, err
		}
		// Not Add: a keyring of the same name made meanwhile would be
		// displaced. Making it aside and moving it in exclusively cannot.
		k := col.Cache(name)
		err = k.swapIn(ctx, true, func(context.Context, keyring.Serial) error { return nil })
		if errors.Is(err, unix.EEXIST) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return k, nil
	}
	return nil, fmt.Errorf("krb5ring: %s: no free cache name in %d tries", col.name, uniqueTries)
}

// Import stores f in the collection as kinit would store what it got: into
// the cache that already has f's principal, else into the primary cache if
// that has none, else into a new unique cache; then that cache is made
// primary. The chosen cache's contents are replaced whole (see
// Cache.Replace). It returns the cache written. Through a
// keyring.Atomizer all of it is one transaction.
func (col *Collection) Import(ctx context.Context, f *ccache.File) (*Cache, error) {
	var sub string
	err := col.atomically(ctx, func(col *Collection) error {
		k, err := col.importFile(ctx, f)
		if err == nil {
			sub = k.sub
		}
		return err
	}, col)
	if err != nil {
		return nil, err
	}
	return col.Cache(sub), nil
}

func (col *Collection) importFile(ctx context.Context, f *ccache.File) (*Cache, error) {
	k, err := col.Match(ctx, f.DefaultPrincipal)
	exclusive := false
	if errors.Is(err, ErrNotFound) {
		k, err = col.PrimaryCache(ctx)
		if err != nil {
			return nil, err
		}
		if _, perr := k.Principal(ctx); perr == nil {
			// The primary holds someone else's tickets: a new cache.
			name, err := col.uniqueName(ctx)
			if err != nil {
				return nil, err
			}
			k, exclusive = col.Cache(name), true
		}
	} else if err != nil {
		return nil, err
	}
	if err := k.replace(ctx, f, exclusive); err != nil {
		return nil, err
	}
	primary, err := col.Primary(ctx)
	if err != nil {
		return nil, err
	}
	if primary != k.sub {
		if err := col.Switch(ctx, k.sub); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// member is a key a keyring holds.
type member struct {
	id        keyring.Serial
	typ, desc string
}

// members lists the keys ring holds, in its order. Keys that vanish or
// cannot be described between the listing and the description are
// skipped, as MIT's cursor skips keys it cannot read.
func members(ctx context.Context, c keyring.Caller, ring keyring.Serial) ([]member, error) {
	ms, _, err := membersSkipped(ctx, c, ring)
	return ms, err
}

// membersSkipped is members, also saying whether a key was skipped.
func membersSkipped(ctx context.Context, c keyring.Caller, ring keyring.Serial) (ms []member, skipped bool, err error) {
	ids, err := c.Keys(ctx, ring)
	if err != nil {
		return nil, false, err
	}
	ms = make([]member, 0, len(ids))
	for _, id := range ids {
		d, err := c.Describe(ctx, id)
		if err != nil {
			if vanished(err) {
				skipped = true
				continue
			}
			return nil, false, err
		}
		ms = append(ms, member{id: id, typ: d.Type, desc: d.Description})
	}
	return ms, skipped, nil
}

// vanished reports whether err means a key went away or out of reach
// while being read, which MIT's cursor takes as "skip it".
func vanished(err error) bool {
	return notThere(err) || errors.Is(err, unix.EACCES)
}
