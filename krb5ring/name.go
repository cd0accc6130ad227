//go:build linux

package krb5ring

import (
	"fmt"
	"strconv"
	"strings"
)

// Anchor says which keyring a collection lives in.
type Anchor string

// The anchors MIT knows.
const (
	// AnchorPersistent is the per-uid persistent keyring; the collection
	// name is the uid (empty: the caller's).
	AnchorPersistent Anchor = "persistent"
	// AnchorUser is the user keyring @u.
	AnchorUser Anchor = "user"
	// AnchorSession is the session keyring @s (written as @us when the
	// session keyring is the user-session keyring).
	AnchorSession Anchor = "session"
	// AnchorProcess is the process keyring @p: gone when the process is.
	AnchorProcess Anchor = "process"
	// AnchorThread is the thread keyring @t: gone when the thread is.
	AnchorThread Anchor = "thread"
	// AnchorLegacy is what "KEYRING:name" means: the session anchor, with
	// the collection's own cache also linked straight into it for code
	// older than MIT 1.12.
	AnchorLegacy Anchor = "legacy"
)

// Name is a KEYRING cache name: KEYRING:anchor:collection[:subsidiary].
// Without a subsidiary it names a collection, whose primary cache is the
// one MIT tools act on.
type Name struct {
	Anchor     Anchor
	Collection string
	// Subsidiary is the cache within the collection (the cache keyring's
	// description); empty for a collection name.
	Subsidiary string
}

// prefix starts every KEYRING cache name.
const prefix = "KEYRING:"

// ParseName parses a KEYRING cache name the way MIT's parse_residual
// does: the text up to the first colon is the anchor, up to the next the
// collection, and all the rest (colons included) the subsidiary. A name
// with no colon after the prefix is a legacy collection. Unlike MIT, an
// empty subsidiary is refused here rather than when the cache is made, and
// a persistent uid must be plain decimal digits that fit 32 bits.
func ParseName(s string) (Name, error) {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return Name{}, fmt.Errorf("krb5ring: %w: %q", ErrNotKeyring, s)
	}
	var n Name
	anchor, rest, ok := strings.Cut(rest, ":")
	if !ok {
		anchor, rest = string(AnchorLegacy), anchor
	}
	n.Anchor = Anchor(anchor)
	coll, sub, hasSub := strings.Cut(rest, ":")
	n.Collection, n.Subsidiary = coll, sub
	if hasSub && sub == "" {
		return Name{}, fmt.Errorf("krb5ring: %w: %q", ErrEmptySubsidiary, s)
	}
	switch n.Anchor {
	case AnchorPersistent:
		if n.Collection != "" {
			if _, err := n.uid(); err != nil {
				return Name{}, fmt.Errorf("krb5ring: %w: %q", ErrInvalidUID, s)
			}
		}
	case AnchorUser, AnchorSession, AnchorProcess, AnchorThread, AnchorLegacy:
	default:
		return Name{}, fmt.Errorf("krb5ring: %w %q in %q", ErrInvalidAnchor, n.Anchor, s)
	}
	return n, nil
}

// uid is a persistent collection's uid.
func (n Name) uid() (uint32, error) {
	for i := 0; i < len(n.Collection); i++ {
		if c := n.Collection[i]; c < '0' || c > '9' {
			return 0, ErrInvalidUID
		}
	}
	u, err := strconv.ParseUint(n.Collection, 10, 32)
	return uint32(u), err
}

// String returns the name as MIT prints it: klist's "Ticket cache:" line
// for a cache, KRB5CCNAME for a collection.
func (n Name) String() string {
	s := prefix + string(n.Anchor) + ":" + n.Collection
	if n.Subsidiary != "" {
		s += ":" + n.Subsidiary
	}
	return s
}

// IsCollection reports whether n names a collection rather than one cache.
func (n Name) IsCollection() bool { return n.Subsidiary == "" }

// CollectionName returns the name of n's collection.
func (n Name) CollectionName() Name {
	n.Subsidiary = ""
	return n
}

// Cache returns the name of the cache sub in n's collection.
func (n Name) Cache(sub string) Name {
	n.Subsidiary = sub
	return n
}

// collectionKeyring is the description of the collection's keyring.
func (n Name) collectionKeyring() string {
	if n.Anchor == AnchorPersistent {
		return "_krb"
	}
	return "_krb_" + n.Collection
}

// defaultPrimary is the cache a new collection's primary pointer names:
// the collection name, or "tkt" when that is empty, since a key cannot
// have an empty description.
func (n Name) defaultPrimary() string {
	if n.Collection == "" {
		return "tkt"
	}
	return n.Collection
}

// isLegacyCache reports whether n is the cache that MIT also links into
// the session anchor: the legacy collection's cache named after it.
func (n Name) isLegacyCache() bool {
	return n.Anchor == AnchorLegacy && n.Subsidiary == n.Collection
}
