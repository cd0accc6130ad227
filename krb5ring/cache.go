//go:build linux

package krb5ring

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/ccache"
	"github.com/keyctl-go/keyctl-go/keyring"
)

// Cache is one cache of a collection: a keyring named after its subsidiary
// name, holding __krb5_princ__, __krb5_time_offsets__ and one key per
// credential, described by the unparsed server principal. A Cache is a
// name; the keyring is looked up afresh by each call.
type Cache struct {
	col *Collection
	sub string
}

// Name returns the cache's full name, as klist prints it.
func (k *Cache) Name() Name { return k.col.name.Cache(k.sub) }

// Collection returns the collection the cache belongs to.
func (k *Cache) Collection() *Collection { return k.col }

func (k *Cache) c() keyring.Caller { return k.col.c }

// legacy reports whether this cache is also linked into the session
// anchor and never gets a time-offset key or a big_key.
func (k *Cache) legacy() bool { return k.Name().isLegacyCache() }

// Keyring returns the serial of the cache keyring, or an error wrapping
// ErrNotFound if the collection holds none of that name.
func (k *Cache) Keyring(ctx context.Context) (keyring.Serial, error) {
	id, err := k.c().Search(ctx, k.col.ring, typeKeyring, k.sub, 0)
	if notThere(err) {
		return 0, fmt.Errorf("krb5ring: %s: %w", k.Name(), ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("krb5ring: %s: %w", k.Name(), err)
	}
	return id, nil
}

// Initialize empties the cache, making its keyring if missing, and gives it
// a default principal and, if offset is not nil, a KDC time offset
// (krb5_cc_initialize). As in MIT, an existing keyring is cleared in
// place and keeps its serial. Through a Caller that makes transactions
// (keyring.Atomizer) that is one commit, and nobody sees the cache empty;
// over the daemon a reader may, for a moment.
func (k *Cache) Initialize(ctx context.Context, princ ccache.Principal, offset *TimeOffset) error {
	pb, err := encodePrincipal(princ)
	if err != nil {
		return err
	}
	return k.col.atomically(ctx, func(col *Collection) error {
		_, err := col.Cache(k.sub).initialize(ctx, pb, offset, false)
		return err
	}, nil)
}

// initialize is Initialize with the principal encoded; with exclusive, a
// cache keyring already there is EEXIST rather than cleared. It returns
// the cache keyring.
func (k *Cache) initialize(ctx context.Context, pb []byte, offset *TimeOffset, exclusive bool) (keyring.Serial, error) {
	id, err := k.Keyring(ctx)
	switch {
	case err == nil && exclusive:
		return 0, fmt.Errorf("krb5ring: %s exists: %w", k.Name(), unix.EEXIST)
	case err == nil:
		if err := k.c().Clear(ctx, id); err != nil {
			return 0, fmt.Errorf("krb5ring: initialize %s: %w", k.Name(), err)
		}
	case errors.Is(err, ErrNotFound):
		if id, err = k.c().Add(ctx, typeKeyring, k.sub, nil, k.col.ring); err != nil {
			return 0, fmt.Errorf("krb5ring: initialize %s: %w", k.Name(), err)
		}
		if k.legacy() {
			if err := k.c().Link(ctx, id, k.col.anchor); err != nil {
				return 0, fmt.Errorf("krb5ring: initialize %s: link into the session: %w", k.Name(), err)
			}
		}
	default:
		return 0, err
	}
	if err := k.fillHeader(ctx, id, pb, offset); err != nil {
		return 0, fmt.Errorf("krb5ring: initialize %s: %w", k.Name(), err)
	}
	return id, nil
}

// fillHeader adds the principal and time-offset keys to cache keyring id.
func (k *Cache) fillHeader(ctx context.Context, id keyring.Serial, princ []byte, offset *TimeOffset) error {
	if _, err := k.c().Add(ctx, typeUser, princKey, princ, id); err != nil {
		return err
	}
	if offset != nil && !k.legacy() {
		if _, err := k.c().Add(ctx, typeUser, offsetsKey, encodeOffset(*offset), id); err != nil {
			return err
		}
	}
	return nil
}

// Store adds a credential to the cache (krb5_cc_store), replacing the one
// for the same server principal if there is one: its key is updated in
// place. The key expires at the ticket's endtime, and the cache keyring at
// the latest endtime of all its credentials (1 s from now if all have
// passed), as MIT sets them. Through a keyring.Atomizer it is one commit.
func (k *Cache) Store(ctx context.Context, cred *ccache.Credential) error {
	return k.col.atomically(ctx, func(col *Collection) error { return col.Cache(k.sub).store(ctx, cred) }, nil)
}

func (k *Cache) store(ctx context.Context, cred *ccache.Credential) error {
	id, err := k.Keyring(ctx)
	if err != nil {
		return err
	}
	if err := k.storeIn(ctx, id, cred); err != nil {
		return fmt.Errorf("krb5ring: store in %s: %w", k.Name(), err)
	}
	if err := k.updateExpiry(ctx, id); err != nil {
		return fmt.Errorf("krb5ring: store in %s: %w", k.Name(), err)
	}
	return nil
}

// credKeyType is the type MIT ends up with for a credential key: user,
// unless the payload does not fit one (MIT tries big_key first and falls
// back to user where the kernel has no big_key; this store has both, so
// big_key only where user cannot hold it). Legacy caches are always user.
func (k *Cache) credKeyType(payload []byte) string {
	if len(payload) > keyring.MaxUserPayload && !k.legacy() {
		return typeBigKey
	}
	return typeUser
}

// storeIn adds cred's key to cache keyring id and sets its timeout.
func (k *Cache) storeIn(ctx context.Context, id keyring.Serial, cred *ccache.Credential) error {
	payload, err := encodeCredential(cred)
	if err != nil {
		return err
	}
	desc := cred.Server.String()
	typ := k.credKeyType(payload)
	key, err := k.c().Add(ctx, typ, desc, payload, id)
	if err != nil {
		return fmt.Errorf("add %s key %q: %w", typ, desc, err)
	}
	// A key of the other type for the same server would be a second
	// credential for it, which the layout cannot have.
	other := typeUser
	if typ == typeUser {
		other = typeBigKey
	}
	if old, err := k.c().Search(ctx, id, other, desc, 0); err == nil {
		if err := k.c().Unlink(ctx, old, id); err != nil {
			return fmt.Errorf("unlink the %s key %q it replaces: %w", other, desc, err)
		}
	}
	now := k.col.opts.now().Unix()
	if end := int64(cred.EndTime); end > now {
		if err := k.c().SetTimeout(ctx, key, time.Duration(end-now)*time.Second); err != nil {
			return fmt.Errorf("timeout of %q: %w", desc, err)
		}
	}
	return nil
}

// updateExpiry is MIT's update_keyring_expiration: the cache keyring
// expires at the latest endtime of its credentials; 1 s if that has
// passed (0 would mean never); nothing while no credential has one.
func (k *Cache) updateExpiry(ctx context.Context, id keyring.Serial) error {
	ends, err := k.endTimes(ctx, id)
	if err != nil {
		return err
	}
	var latest int64
	for _, end := range ends {
		latest = max(latest, int64(end))
	}
	if latest == 0 {
		return nil
	}
	timeout := time.Second
	if now := k.col.opts.now().Unix(); latest > now {
		timeout = time.Duration(latest-now) * time.Second
	}
	if err := k.c().SetTimeout(ctx, id, timeout); err != nil {
		return fmt.Errorf("timeout of the cache keyring: %w", err)
	}
	return nil
}

// RemoveCred unlinks the credential for server (krb5_cc_remove_cred).
func (k *Cache) RemoveCred(ctx context.Context, server ccache.Principal) error {
	return k.col.atomically(ctx, func(col *Collection) error { return col.Cache(k.sub).removeCred(ctx, server) }, nil)
}

func (k *Cache) removeCred(ctx context.Context, server ccache.Principal) error {
	id, err := k.Keyring(ctx)
	if err != nil {
		return err
	}
	desc := server.String()
	ms, err := members(ctx, k.c(), id)
	if err != nil {
		return fmt.Errorf("krb5ring: remove from %s: %w", k.Name(), err)
	}
	for _, m := range ms {
		if m.desc == desc && isCredKey(m) {
			if err := k.c().Unlink(ctx, m.id, id); err != nil {
				return fmt.Errorf("krb5ring: remove %q from %s: %w", desc, k.Name(), err)
			}
			return nil
		}
	}
	return fmt.Errorf("krb5ring: %w: %q in %s", ErrCredNotFound, desc, k.Name())
}

// isCredKey reports whether a cache member is a credential: MIT's cursor
// takes every key but the principal and time-offset keys for one.
func isCredKey(m member) bool {
	return !(m.typ == typeUser && (m.desc == princKey || m.desc == offsetsKey))
}

// Principal returns the cache's default principal; an error wrapping
// ErrNotFound if the cache does not exist or was never initialized.
func (k *Cache) Principal(ctx context.Context) (ccache.Principal, error) {
	var p ccache.Principal
	err := k.stable(ctx, func(id keyring.Serial) (err error) {
		p, err = k.principal(ctx, id)
		return err
	})
	return p, err
}

func (k *Cache) principal(ctx context.Context, id keyring.Serial) (ccache.Principal, error) {
	key, err := k.c().Search(ctx, id, typeUser, princKey, 0)
	if notThere(err) {
		return ccache.Principal{}, fmt.Errorf("krb5ring: %s has no principal: %w", k.Name(), ErrNotFound)
	}
	if err != nil {
		return ccache.Principal{}, fmt.Errorf("krb5ring: %s: %w", k.Name(), err)
	}
	b, err := k.c().Read(ctx, key)
	if err != nil {
		return ccache.Principal{}, fmt.Errorf("krb5ring: %s: read %s: %w", k.Name(), princKey, err)
	}
	p, err := decodePrincipal(b)
	if err != nil {
		return ccache.Principal{}, fmt.Errorf("krb5ring: %s: %w", k.Name(), err)
	}
	return p, nil
}

// Credentials returns the cache's credentials in the order the store
// keeps them, which is the order they were first stored in:
// configuration entries and removal markers included.
func (k *Cache) Credentials(ctx context.Context) ([]ccache.Credential, error) {
	var creds []ccache.Credential
	err := k.stable(ctx, func(id keyring.Serial) (err error) {
		creds, err = k.credentials(ctx, id)
		if err != nil {
			return fmt.Errorf("krb5ring: %s: %w", k.Name(), err)
		}
		return nil
	})
	return creds, err
}

// stableTries is how often a read is tried again because the cache
// keyring was swapped (Replace) while it ran.
const stableTries = 16

// stable runs read on the cache keyring and checks afterwards that the
// name still leads to the same keyring; if not (a Replace swapped it
// meanwhile, and read may have seen the old one emptied as it was
// destroyed), it reads again. So a read sees one keyring's contents,
// which Replace never changes once they are in the collection.
func (k *Cache) stable(ctx context.Context, read func(keyring.Serial) error) error {
	var err error
	for range stableTries {
		var id keyring.Serial
		if id, err = k.Keyring(ctx); err != nil {
			return err
		}
		err = read(id)
		if errors.Is(err, errRaced) || vanished(err) {
			runtime.Gosched()
			continue
		}
		again, kerr := k.Keyring(ctx)
		if kerr == nil && again == id {
			return err
		}
	}
	if errors.Is(err, errRaced) {
		return fmt.Errorf("krb5ring: %s: %w", k.Name(), err)
	}
	return err
}

// errRaced means a key of the cache went away while it was being read:
// the cache keyring was swapped or changed meanwhile, and the read is
// tried again.
var errRaced = errors.New("the cache changed while it was read")

func (k *Cache) credentials(ctx context.Context, id keyring.Serial) ([]ccache.Credential, error) {
	return readCredKeys(ctx, k, id, decodeCredential)
}

// readCredKeys decodes every credential key of cache keyring id, in
// keyring order: errRaced if the keyring or a key changed while read.
func readCredKeys[T any](ctx context.Context, k *Cache, id keyring.Serial, decode func([]byte) (T, error)) ([]T, error) {
	ms, skipped, err := membersSkipped(ctx, k.c(), id)
	if err != nil {
		return nil, err
	}
	if skipped {
		return nil, errRaced
	}
	var out []T
	for _, m := range ms {
		if !isCredKey(m) {
			continue
		}
		b, err := k.c().Read(ctx, m.id)
		if vanished(err) {
			return nil, errRaced
		}
		if err != nil {
			return nil, fmt.Errorf("read %q: %w", m.desc, err)
		}
		v, err := decode(b)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", m.desc, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// Export returns the cache as a version 4 FILE cache: the time offset (if
// the cache has one) as the header's only field, the default principal,
// and the credentials in the store's order. A FILE cache of version 4
// whose header holds just the time offset, and which has no two records
// for one server principal, comes back byte for byte from Replace and
// Export.
func (k *Cache) Export(ctx context.Context) (*ccache.File, error) {
	var f *ccache.File
	err := k.stable(ctx, func(id keyring.Serial) (err error) {
		f, err = k.export(ctx, id)
		return err
	})
	return f, err
}

func (k *Cache) export(ctx context.Context, id keyring.Serial) (*ccache.File, error) {
	ms, skipped, err := membersSkipped(ctx, k.c(), id)
	if err != nil {
		return nil, fmt.Errorf("krb5ring: export %s: %w", k.Name(), err)
	}
	if skipped {
		return nil, errRaced
	}
	f := &ccache.File{Version: ccache.Version4}
	havePrinc := false
	for _, m := range ms {
		b, err := k.c().Read(ctx, m.id)
		if vanished(err) {
			return nil, errRaced
		}
		if err != nil {
			return nil, fmt.Errorf("krb5ring: export %s: read %q: %w", k.Name(), m.desc, err)
		}
		switch {
		case m.typ == typeUser && m.desc == princKey:
			if f.DefaultPrincipal, err = decodePrincipal(b); err != nil {
				return nil, fmt.Errorf("krb5ring: export %s: %w", k.Name(), err)
			}
			havePrinc = true
		case m.typ == typeUser && m.desc == offsetsKey:
			o, err := decodeOffset(b)
			if err != nil {
				return nil, fmt.Errorf("krb5ring: export %s: %w", k.Name(), err)
			}
			f.SetTimeOffset(o.Seconds, o.Microseconds)
		default:
			c, err := decodeCredential(b)
			if err != nil {
				return nil, fmt.Errorf("krb5ring: export %s: key %q: %w", k.Name(), m.desc, err)
			}
			f.Credentials = append(f.Credentials, c)
		}
	}
	if !havePrinc {
		return nil, fmt.Errorf("krb5ring: export %s: no principal: %w", k.Name(), ErrNotFound)
	}
	return f, nil
}

// Destroy empties the cache keyring and unlinks it from the collection
// (kdestroy), and for the legacy cache from the session keyring too. The
// collection and its primary pointer stay; the pointer may go on naming
// the destroyed cache, as with MIT.
func (k *Cache) Destroy(ctx context.Context) error {
	return k.col.atomically(ctx, func(col *Collection) error { return col.Cache(k.sub).destroy(ctx) }, nil)
}

func (k *Cache) destroy(ctx context.Context) error {
	id, err := k.Keyring(ctx)
	if err != nil {
		return err
	}
	if err := k.c().Clear(ctx, id); err != nil {
		return fmt.Errorf("krb5ring: destroy %s: %w", k.Name(), err)
	}
	if k.legacy() {
		// Unlinked from the session first, so the last unlink (from the
		// collection) is the one that destroys the keyring.
		if err := k.c().Unlink(ctx, id, k.col.anchor); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("krb5ring: destroy %s: unlink from the session: %w", k.Name(), err)
		}
	}
	if err := k.c().Unlink(ctx, id, k.col.ring); err != nil {
		return fmt.Errorf("krb5ring: destroy %s: %w", k.Name(), err)
	}
	return nil
}

// Replace makes the cache hold exactly what f holds: its default
// principal, its header's time offset (if any) and its credentials in
// order, configuration entries and removal markers included. It is what
// kinit does on renewal and what an import is.
//
// Unlike MIT's KEYRING cache (clear, then store), no reader ever sees the
// cache empty or half written. Through a Caller that makes transactions
// (a keyring.Process or Tx) the cache keyring is cleared and filled in
// one transaction: it keeps its serial, and its watchers hear the clear
// and the new keys together, after the commit. Over the daemon, which
// has no transactions, the new contents are built in a fresh keyring out
// of sight (under the caller's process keyring) and moved into the
// collection in one commit, displacing the old keyring, which keeps its
// place in the collection's order. What that costs: the cache keyring gets
// a new serial. A reader that looks the cache up by name (as MIT does on
// every call) sees the old contents or the new, whole; one that holds the
// old serial finds it gone (ENOKEY), and watchers of the old keyring get a
// removal record. For the legacy cache, the link in the session keyring is
// swapped by a second commit, so for a moment the session keyring still
// shows the old, complete cache.
//
// Records that share a server principal cannot both be kept (one key per
// description); the later one wins, in the earlier one's place, as if MIT
// had stored them one after the other. Header fields other than the time
// offset are not kept.
func (k *Cache) Replace(ctx context.Context, f *ccache.File) error {
	return k.replace(ctx, f, false)
}

func (k *Cache) replace(ctx context.Context, f *ccache.File, exclusive bool) error {
	pb, err := encodePrincipal(f.DefaultPrincipal)
	if err != nil {
		return err
	}
	var offset *TimeOffset
	if s, us, ok := f.TimeOffset(); ok {
		offset = &TimeOffset{s, us}
	}
	if _, ok := k.c().(keyring.Atomizer); ok {
		return k.col.atomically(ctx, func(col *Collection) error {
			k := col.Cache(k.sub)
			id, err := k.initialize(ctx, pb, offset, exclusive)
			if err != nil {
				return err
			}
			for i := range f.Credentials {
				if err := k.storeIn(ctx, id, &f.Credentials[i]); err != nil {
					return fmt.Errorf("krb5ring: fill %s: %w", k.Name(), err)
				}
			}
			if err := k.updateExpiry(ctx, id); err != nil {
				return fmt.Errorf("krb5ring: fill %s: %w", k.Name(), err)
			}
			return nil
		}, nil)
	}
	return k.swapIn(ctx, exclusive, func(ctx context.Context, id keyring.Serial) error {
		if err := k.fillHeader(ctx, id, pb, offset); err != nil {
			return err
		}
		for i := range f.Credentials {
			if err := k.storeIn(ctx, id, &f.Credentials[i]); err != nil {
				return err
			}
		}
		return k.updateExpiry(ctx, id)
	})
}

// stagingPrefix names the keyring, linked into the caller's process
// keyring, in which swapIn builds a cache. Its own random suffix keeps it
// from displacing anything the process keyring holds.
const stagingPrefix = "krb5ring:staging:"

// swapIn builds a new cache keyring with fill, out of sight, then moves it
// into the collection in one commit: displacing the cache of that name,
// or, with exclusive, failing with EEXIST if there is one. The staging
// keyring is unlinked whatever happens, which destroys anything left in it.
func (k *Cache) swapIn(ctx context.Context, exclusive bool, fill func(context.Context, keyring.Serial) error) error {
	var suffix [8]byte
	if _, err := k.col.opts.rand().Read(suffix[:]); err != nil {
		return fmt.Errorf("krb5ring: %s: staging name: %w", k.Name(), err)
	}
	stage, err := k.c().Add(ctx, typeKeyring, fmt.Sprintf("%s%x", stagingPrefix, suffix), nil, keyring.ProcessKeyring)
	if err != nil {
		return fmt.Errorf("krb5ring: %s: staging keyring: %w", k.Name(), err)
	}
	defer k.c().Unlink(context.WithoutCancel(ctx), stage, keyring.ProcessKeyring)
	id, err := k.c().Add(ctx, typeKeyring, k.sub, nil, stage)
	if err != nil {
		return fmt.Errorf("krb5ring: %s: new cache keyring: %w", k.Name(), err)
	}
	if err := fill(ctx, id); err != nil {
		return fmt.Errorf("krb5ring: fill %s: %w", k.Name(), err)
	}
	var flags uint
	if exclusive {
		flags = keyring.MoveExclusive
	}
	if err := k.c().Move(ctx, id, stage, k.col.ring, flags); err != nil {
		return fmt.Errorf("krb5ring: move the new %s into %d: %w", k.Name(), k.col.ring, err)
	}
	if k.legacy() {
		if err := k.c().Link(ctx, id, k.col.anchor); err != nil {
			return fmt.Errorf("krb5ring: link %s into the session: %w", k.Name(), err)
		}
	}
	return nil
}

// Record is one credential key of a cache: its serial, which stays while
// the key does (a credential stored again for the same server is
// rewritten in place), and its payload, the version 4 FILE record of the
// credential byte for byte.
type Record struct {
	Key  keyring.Serial
	Data []byte
}

// Records returns the cache's credential keys in the store's order, as
// Credentials does, but undecoded: what a KCM server hands its clients.
func (k *Cache) Records(ctx context.Context) ([]Record, error) {
	var recs []Record
	err := k.stable(ctx, func(id keyring.Serial) error {
		ms, skipped, err := membersSkipped(ctx, k.c(), id)
		if err != nil {
			return fmt.Errorf("krb5ring: %s: %w", k.Name(), err)
		}
		if skipped {
			return errRaced
		}
		recs = recs[:0]
		for _, m := range ms {
			if !isCredKey(m) {
				continue
			}
			b, err := k.c().Read(ctx, m.id)
			if vanished(err) {
				return errRaced
			}
			if err != nil {
				return fmt.Errorf("krb5ring: %s: read %q: %w", k.Name(), m.desc, err)
			}
			recs = append(recs, Record{Key: m.id, Data: b})
		}
		return nil
	})
	return recs, err
}

// TimeOffset returns the cache's KDC time offset (__krb5_time_offsets__);
// ok is false if it has none. A missing or uninitialised cache is an
// error wrapping ErrNotFound.
func (k *Cache) TimeOffset(ctx context.Context) (o TimeOffset, ok bool, err error) {
	err = k.stable(ctx, func(id keyring.Serial) error {
		if _, err := k.principal(ctx, id); err != nil {
			return err
		}
		key, err := k.c().Search(ctx, id, typeUser, offsetsKey, 0)
		if notThere(err) {
			ok = false
			return nil
		}
		if err != nil {
			return fmt.Errorf("krb5ring: %s: %w", k.Name(), err)
		}
		b, err := k.c().Read(ctx, key)
		if err != nil {
			return fmt.Errorf("krb5ring: %s: read %s: %w", k.Name(), offsetsKey, err)
		}
		if o, err = decodeOffset(b); err != nil {
			return fmt.Errorf("krb5ring: %s: %w", k.Name(), err)
		}
		ok = true
		return nil
	})
	return o, ok, err
}

// SetTimeOffset sets the cache's KDC time offset, rewriting
// __krb5_time_offsets__ in place or adding it, as MIT's initialize writes
// it. A missing or uninitialised cache is an error wrapping ErrNotFound.
func (k *Cache) SetTimeOffset(ctx context.Context, o TimeOffset) error {
	return k.col.atomically(ctx, func(col *Collection) error {
		k := col.Cache(k.sub)
		id, err := k.Keyring(ctx)
		if err != nil {
			return err
		}
		if _, err := k.principal(ctx, id); err != nil {
			return err
		}
		if _, err := k.c().Add(ctx, typeUser, offsetsKey, encodeOffset(o), id); err != nil {
			return fmt.Errorf("krb5ring: %s: set %s: %w", k.Name(), offsetsKey, err)
		}
		return nil
	}, nil)
}

// endTimes reads the endtime of every credential of cache keyring id,
// without decoding the rest: what updateExpiry needs, after every store,
// of a cache that may hold a thousand tickets.
func (k *Cache) endTimes(ctx context.Context, id keyring.Serial) ([]ccache.Timestamp, error) {
	return readCredKeys(ctx, k, id, recordEndTime)
}

// Record returns the credential key for server (described by its unparsed
// name, as Store names it), raw; an error wrapping ErrCredNotFound if the
// cache holds none, ErrNotFound if there is no such cache.
func (k *Cache) Record(ctx context.Context, server ccache.Principal) (Record, error) {
	desc := server.String()
	var rec Record
	err := k.stable(ctx, func(id keyring.Serial) error {
		for _, typ := range []string{typeUser, typeBigKey} {
			key, err := k.c().Search(ctx, id, typ, desc, 0)
			if notThere(err) {
				continue
			}
			if err != nil {
				return fmt.Errorf("krb5ring: %s: %w", k.Name(), err)
			}
			b, err := k.c().Read(ctx, key)
			if err != nil {
				return fmt.Errorf("krb5ring: %s: read %q: %w", k.Name(), desc, err)
			}
			rec = Record{Key: key, Data: b}
			return nil
		}
		return fmt.Errorf("krb5ring: %w: %q in %s", ErrCredNotFound, desc, k.Name())
	})
	return rec, err
}
