//go:build linux

package krb5ring

import "fmt"

// Op is what happened in a collection.
type Op uint8

// What a Watch reports.
const (
	// CacheCreated: a cache keyring appeared in the collection.
	CacheCreated Op = iota + 1
	// CacheReplaced: the cache keyring was swapped for a new one of the
	// same name (Replace: an import, a renewal). Credentials that are in
	// the new one and not the old come as CredStored, the reverse as
	// CredRemoved; the others were replaced along with the keyring.
	CacheReplaced
	// CacheCleared: the cache keyring was emptied in place, which MIT
	// does to initialize a cache (Initialize) and, just before unlinking
	// it, to destroy one (kdestroy, Destroy). The credentials it held are
	// gone with it; what it holds afterwards comes as CredStored.
	CacheCleared
	// CacheDestroyed: the cache keyring left the collection (kdestroy).
	CacheDestroyed
	// PrimarySwitched: krb_ccache:primary names another cache (kswitch,
	// or kinit of a new principal); Cache is the new primary.
	PrimarySwitched
	// CredStored: a credential key was added to a cache.
	CredStored
	// CredUpdated: a credential key was rewritten in place (stored again
	// for the same server).
	CredUpdated
	// CredRemoved: a credential key left a cache.
	CredRemoved
	// EventsLost: records were lost; the watch read the collection again
	// and reports what changed as events after this one, but changes
	// that were undone meanwhile are not seen.
	EventsLost
	// CollectionDestroyed: the collection keyring itself is gone; the
	// watch ends.
	CollectionDestroyed
)

var opNames = [...]string{
	CacheCreated:        "created",
	CacheReplaced:       "replaced",
	CacheCleared:        "cleared",
	CacheDestroyed:      "destroyed",
	PrimarySwitched:     "primary",
	CredStored:          "stored",
	CredUpdated:         "updated",
	CredRemoved:         "removed",
	EventsLost:          "lost",
	CollectionDestroyed: "gone",
}

// String returns the word Event.String starts with.
func (o Op) String() string {
	if int(o) < len(opNames) && opNames[o] != "" {
		return opNames[o]
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// Event is one change in a collection.
type Event struct {
	Op Op
	// Cache is the cache concerned; for EventsLost and
	// CollectionDestroyed it is the collection's name.
	Cache Name
	// Server is the credential's server principal as its key is
	// described (MIT's unparsed form); empty for other operations.
	Server string
}

// String is one readable line: the operation, the cache's full name and,
// for credentials, the server principal, e.g.
// "stored KEYRING:session:x:x krbtgt/TEST.LOCAL@TEST.LOCAL".
func (e Event) String() string {
	if e.Server != "" {
		return e.Op.String() + " " + e.Cache.String() + " " + e.Server
	}
	return e.Op.String() + " " + e.Cache.String()
}
