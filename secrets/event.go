//go:build linux

package secrets

import "fmt"

// Kind is what happened to a secret, or to a service.
type Kind uint8

// What a Watch reports.
const (
	// Created: a secret was stored under an account that had none.
	Created Kind = iota + 1
	// Updated: a secret was stored again, or its label, attributes or
	// expiry changed (its key's payload was updated in place).
	Updated
	// Deleted: a secret was removed (Delete, its key unlinked, cleared,
	// revoked or invalidated).
	Deleted
	// Expired: a secret's expiry passed and the store collected it.
	Expired
	// ServiceCreated: a service keyring appeared (watches of every
	// service only).
	ServiceCreated
	// ServiceDeleted: the service keyring went, and the secrets only it
	// held with it; they are reported as Deleted first. A watch of one
	// service ends after this event.
	ServiceDeleted
	// Lost: notifications were lost (a queue overflowed). The watch read
	// what it watches again; the events after this one say what changed
	// meanwhile, but not changes undone before it looked.
	Lost
	// Compacted: WatchFrom was asked for changes the store's history
	// cannot give: older than it reaches, or of another store or another
	// opening of it (see WatchFrom). Read the service again (List); the
	// events after this one are changes from now on.
	Compacted
)

var kindNames = [...]string{
	Created:        "created",
	Updated:        "updated",
	Deleted:        "deleted",
	Expired:        "expired",
	ServiceCreated: "service-created",
	ServiceDeleted: "service-deleted",
	Lost:           "lost",
	Compacted:      "compacted",
}

// String is the kind's word, as Event.String starts with.
func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Event is one change a Watch reports.
type Event struct {
	Kind    Kind
	Service string
	// Account is the secret's; "" for the service-wide kinds.
	Account string
	// Revision is the store's revision once the change committed, so
	// events can be ordered against reads and WatchFrom can resume after
	// them; it is of the store and history Watch.Store names. 0 over a
	// daemon too old to keep revisions.
	Revision uint64
}

// String is one readable line, e.g. "updated github.com/alice @42".
func (e Event) String() string {
	s := e.Kind.String() + " " + e.Service
	if e.Account != "" {
		s += "/" + e.Account
	}
	if e.Revision != 0 {
		s += fmt.Sprintf(" @%d", e.Revision)
	}
	return s
}
