//go:build linux

package secrets

import (
	"fmt"
	"io"
	"log/slog"
	"maps"
	"time"
)

// Item is one stored secret with what describes it: the service and
// account it is stored under, a label for people, attributes to find it
// by, and the secret itself.
type Item struct {
	Service string
	Account string
	// Label is a name for people; the Secret Service shows it.
	Label string
	// Attributes are string pairs Find matches on. They are kept sealed
	// with the secret, never in clear (see the package doc).
	Attributes map[string]string
	// ContentType is the secret's MIME type; "" means text/plain.
	ContentType string
	// Secret is the secret. List and Find leave it nil.
	Secret Secret
	// Created and Modified are when the item was first stored and last
	// changed, to the nanosecond; Put and Set keep Created.
	Created, Modified time.Time
	// Expires is when the secret stops being found; zero is never. It is
	// the key's expiry in the store.
	Expires time.Time
}

// clone copies the item, attributes included, so the caller's map is not
// shared with what the store keeps.
func (it Item) clone() Item {
	it.Attributes = maps.Clone(it.Attributes)
	return it
}

// matches reports whether every pair of want is among the item's
// attributes, as the Secret Service's SearchItems matches.
func (it Item) matches(want map[string]string) bool {
	for k, v := range want {
		if got, ok := it.Attributes[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// Secret is a secret's bytes. It redacts itself when printed or logged,
// so that an Item can go to a log line without its secret.
type Secret []byte

const redacted = "[secret redacted]"

// String implements fmt.Stringer without showing the secret.
func (Secret) String() string { return redacted }

// GoString implements fmt.GoStringer without showing the secret.
func (Secret) GoString() string { return redacted }

// Format prints the redaction for every verb, %x and %q included.
func (Secret) Format(f fmt.State, _ rune) { io.WriteString(f, redacted) }

// LogValue implements slog.LogValuer without showing the secret.
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }
