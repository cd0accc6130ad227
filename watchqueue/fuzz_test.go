//go:build linux

package watchqueue_test

import (
	"bytes"
	"testing"

	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// FuzzDecode feeds arbitrary bytes to the record decoder. It must never
// panic, must report a length within the buffer, and what it decodes must
// encode back to exactly the bytes it came from.
func FuzzDecode(f *testing.F) {
	f.Add(watchqueue.KeyNotification{Subtype: watchqueue.KeyLinked, Tag: 1, KeyID: 5, Aux: 6}.AppendBinary(nil, false), false)
	f.Add(watchqueue.KeyNotification{Subtype: watchqueue.KeyLinked, Tag: 1, KeyID: 5, Aux: 6, Revision: 9}.AppendBinary(nil, true), true)
	f.Add(watchqueue.Removal{Tag: 2, ID: 7, HasID: true}.AppendBinary(nil, false), false)
	f.Add(watchqueue.Removal{Tag: 2}.AppendBinary(nil, false), false)
	f.Add(watchqueue.Loss{Revision: 3}.AppendBinary(nil, true), true)
	f.Fuzz(func(t *testing.T, data []byte, withRevision bool) {
		rec, n, err := watchqueue.Decode(data, withRevision)
		if err != nil {
			return
		}
		if n < watchqueue.HeaderSize || n > len(data) || n > watchqueue.MaxRecordSize {
			t.Fatalf("decoded length %d from %d bytes", n, len(data))
		}
		if got := rec.AppendBinary(nil, withRevision); !bytes.Equal(got, data[:n]) {
			t.Fatalf("decoded %#v from % x, which encodes to % x", rec, data[:n], got)
		}
	})
}

// FuzzParseFilter feeds arbitrary bytes, as a caller would pass the
// kernel's struct watch_notification_filter, to the filter parser. It must
// never panic; a filter it accepts must encode back to the same bytes, be
// accepted by a queue, and be safe to match against any header.
func FuzzParseFilter(f *testing.F) {
	var links watchqueue.SubtypeSet
	links.Add(uint8(watchqueue.KeyLinked), 200)
	good, _ := (&watchqueue.Filter{Types: []watchqueue.TypeFilter{
		{Type: watchqueue.TypeKeyNotify, Subtypes: links, InfoMask: watchqueue.InfoID, InfoFilter: 1 << 8},
		{Type: 0xffffffff},
	}}).AppendBinary(nil)
	f.Add(good)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		filter, err := watchqueue.ParseFilter(data)
		if err != nil {
			return
		}
		if got, _ := filter.AppendBinary(nil); !bytes.Equal(got, data) {
			t.Fatalf("parsed % x, which encodes to % x", data, got)
		}
		q := watchqueue.New(watchqueue.Options{})
		defer q.Close()
		if err := q.SetFilter(filter); err != nil {
			t.Fatalf("ParseFilter accepted what SetFilter refuses: %v", err)
		}
		for _, tf := range filter.Types {
			h := watchqueue.Header{Type: tf.Type & watchqueue.MaxType, Subtype: uint8(tf.Subtypes[0]), Info: tf.InfoFilter | 16}
			q.Wants(h)
		}
	})
}
