//go:build linux

package daemon

import (
	"testing"

	"github.com/keyctl-go/keyctl-go/internal/wire"
)

// frozenCodes are the codes given out, by name. A code is the protocol's
// once it is given: a row may be added with a new one, never renumbered
// or given an old one, or older clients and daemons would call one op and
// be served another.
var frozenCodes = map[string]wire.Op{
	"add":                 1,
	"read":                2,
	"describe":            3,
	"search":              4,
	"link":                5,
	"unlink":              6,
	"update":              7,
	"revoke":              8,
	"invalidate":          9,
	"get_keyring_id":      10,
	"join_session":        11,
	"adopt_session":       12,
	"watch":               13,
	"keys":                14,
	"move":                15,
	"clear":               16,
	"set_timeout":         17,
	"set_perm":            18,
	"chown":               19,
	"restrict":            20,
	"request_key":         21,
	"get_persistent":      22,
	"pin_session":         23,
	"unpin_session":       24,
	"pipes":               25,
	"request_key_callout": 26,
	"complete_request":    27,
	"assume_authority":    28,
	"instantiate":         29,
	"reject":              30,
	"watch_queue":         31,
	"status":              32,
}

// The table holds every code given out, under its name, and nothing else.
func TestCodesFrozen(t *testing.T) {
	rows := 0
	for code, h := range byCode {
		if h == nil {
			continue
		}
		rows++
		if want, ok := frozenCodes[h.String()]; !ok || want != wire.Op(code) {
			t.Errorf("row %s has code %d; frozen: %d (%v)", h, code, want, ok)
		}
	}
	if rows != len(frozenCodes) {
		t.Errorf("%d rows in the table, %d codes given out", rows, len(frozenCodes))
	}
	if opWatch.code != watchCode {
		t.Errorf("watch's row has code %d, record frames carry %d", opWatch.code, watchCode)
	}
}
