//go:build linux

package wire_test

import (
	"bytes"
	"testing"

	"github.com/keyctl-go/keyctl-go/internal/wire"
)

// FuzzDecodeFrame feeds arbitrary bytes to the decoders. Whatever they
// accept must encode back to the same bytes: every value has one
// encoding, so a difference is a field read or written wrong. A frame's
// body is tried as every message type (the op says which one the daemon
// would use, but the encoding must hold for all of them).
func FuzzDecodeFrame(f *testing.F) {
	for _, m := range samples {
		b, _ := wire.Frame{Kind: wire.KindRequest, ID: 1, Op: opA, Body: wire.Encode(nil, m)}.Append(nil)
		f.Add(b)
		b, _ = wire.Frame{Kind: wire.KindReply, ID: 1, Op: opA, Body: wire.EncodeReply(nil, 0, "", m)}.Append(nil)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, n, err := wire.DecodeFrame(b)
		// FrameBuffered is what a reader asks before DecodeFrame: bytes it
		// calls incomplete must not decode, and bytes it calls enough must
		// decode the same however many more follow, or a reader would
		// misparse or wait forever.
		if wire.FrameBuffered(b) {
			_, n2, err2 := wire.DecodeFrame(append(bytes.Clone(b), 0))
			if n2 != n || (err2 == nil) != (err == nil) {
				t.Fatalf("FrameBuffered(%x), but one more byte decodes %d, %v instead of %d, %v", b, n2, err2, n, err)
			}
		} else if err == nil {
			t.Fatalf("DecodeFrame took %d bytes of %x that FrameBuffered calls incomplete", n, b)
		}
		if err != nil {
			return
		}
		again, err := fr.Append(nil)
		if err != nil || !bytes.Equal(again, b[:n]) {
			t.Fatalf("frame re-encodes to %x (%v), was %x", again, err, b[:n])
		}
		for _, sample := range samples {
			m := zero(sample)
			switch fr.Kind {
			case wire.KindRequest:
				if wire.Decode(fr.Body, m) != nil {
					continue
				}
				if got := wire.Encode(nil, m); !bytes.Equal(got, fr.Body) {
					t.Fatalf("%s request re-encodes to %x, was %x", name(m), got, fr.Body)
				}
			case wire.KindReply:
				errno, msg, err := wire.DecodeReply(fr.Body, m)
				if err != nil {
					continue
				}
				if got := wire.EncodeReply(nil, errno, msg, m); !bytes.Equal(got, fr.Body) {
					t.Fatalf("%s reply re-encodes to %x, was %x", name(m), got, fr.Body)
				}
			}
		}
	})
}
