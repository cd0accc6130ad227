//go:build linux

package keyring

import (
	"reflect"
	"testing"

	"github.com/keyctl-go/keyctl-go/perms"
	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// samplePosted is a commit's notifications with every field set.
func samplePosted() *posted {
	name := keyName{typ: "user", desc: "token", subject: perms.Subject{UID: 1000, GID: 1000, Mask: 0x3f010000}}
	return &posted{
		cred:           perms.Cred{UID: 1000, GID: 100, Groups: []uint32{4, 27}},
		events:         []event{{key: 123456, sub: watchqueue.KeyLinked, aux: 654321, keyName: name, auxName: name}},
		destroyed:      []Serial{654321},
		destroyedNames: []keyName{name},
	}
}

// What the writer encodes, every host decodes as it was.
func TestPostedRoundTrip(t *testing.T) {
	p := samplePosted()
	got, err := decodePosted(p.appendBinary(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, p) {
		t.Errorf("decoded %+v, encoded %+v", got, p)
	}
	b := p.appendBinary(nil)
	for _, bad := range [][]byte{b[:len(b)-1], append(b, 0), {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}} {
		if _, err := decodePosted(bad); err == nil {
			t.Errorf("decodePosted(%x) took it", bad)
		}
	}
}

// FuzzDecodePosted: no input panics, and what decodes encodes back to
// itself.
func FuzzDecodePosted(f *testing.F) {
	f.Add(samplePosted().appendBinary(nil))
	f.Add((&posted{}).appendBinary(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodePosted(b)
		if err != nil {
			return
		}
		again, err := decodePosted(p.appendBinary(nil))
		if err != nil || !reflect.DeepEqual(again, p) {
			t.Fatalf("%x decoded to %+v, which encodes to something else (%v)", b, p, err)
		}
	})
}
