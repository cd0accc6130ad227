//go:build linux

package wire_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/internal/wire"
)

// samples holds messages of the field kinds the codec knows, with fields
// that are not zero so that a field dropped on the way shows. Which op
// carries which is the daemon's business, and so is holding every
// message type of its table to its encoding (package daemon's
// TestOpsRoundTrip and FuzzOpBodies, which fill the table's own types);
// here the codec counts.
var samples = []wire.Message{
	&wire.AddRequest{Type: "user", Description: "desc", Payload: []byte("secret"), Ring: -4},
	&wire.KeyRequest{ID: 123},
	&wire.SearchRequest{Ring: -3, Type: "user", Description: "x", Dest: 7},
	&wire.LinkRequest{Key: 1, Ring: 2},
	&wire.UpdateRequest{ID: 5, Payload: []byte{0, 1, 2}},
	&wire.GetKeyringIDRequest{ID: -2, Create: true},
	&wire.JoinSessionRequest{Name: "s"},
	&wire.WatchRequest{ID: -4, Tag: 255},
	&wire.WatchQueueRequest{Size: 32, Filter: []byte{1, 0, 0, 0}},
	&wire.MoveRequest{Key: 10, From: -4, To: -3, Flags: 1},
	&wire.SetTimeoutRequest{ID: 12, Timeout: -1500000000},
	&wire.SetPermRequest{ID: 13, Perm: 0xc03f0000},
	&wire.ChownRequest{ID: 14, UID: 0xffffffff, GID: 40777},
	&wire.RestrictRequest{Ring: 15, Type: "asymmetric", Restriction: "builtin_trusted"},
	&wire.RequestKeyRequest{Type: "user", Description: "wanted", Dest: -1},
	&wire.GetPersistentRequest{UID: 0xffffffff, Dest: -3},
	&wire.RequestKeyCalloutRequest{Type: "user", Description: "debug:x", Callout: []byte("info"), Dest: -3},
	&wire.AssumeAuthorityRequest{Key: 18, Token: "0f1e"},
	&wire.InstantiateRequest{Key: 19, Payload: []byte("Debug x"), Ring: -8},
	&wire.RejectRequest{Key: 20, Timeout: 30e9, Errno: 129, Ring: 0},
	&wire.Empty{},

	&wire.SerialReply{Serial: 100},
	&wire.DataReply{Data: []byte("payload")},
	&wire.DescribeReply{Type: "user", UID: 1, GID: 2, Perm: 0x3f010000, Description: "d"},
	&wire.SerialsReply{Serials: []int32{104, 105, -1}},
	&wire.ConstructionReply{Constructing: true, Key: 109, Authority: 110, Token: "0f1e",
		Op: "create", Type: "user", Description: "debug:x", Callout: []byte("info"), UID: 1000, GID: 1000, Session: 111},
	&wire.StatusReply{Socket: "/run/keyctl-go/socket", Store: "/var/lib/keyctl-go/keys.db", Private: true, Uptime: 90e9,
		Users: []wire.UserStatus{{UID: 0, Conns: 1, Watches: 0}, {UID: 1000, Conns: 3, Watches: 2}}},
}

// zero is a new zero message of m's type, to decode into.
func zero(m wire.Message) wire.Message {
	return reflect.New(reflect.TypeOf(m).Elem()).Interface().(wire.Message)
}

func name(m wire.Message) string { return reflect.TypeOf(m).Elem().Name() }

// Op numbers of the frames below: any will do, the frames' bodies are
// decoded by type.
const (
	opA wire.Op = 2
	opB wire.Op = 13
)

func TestRequestRoundTrip(t *testing.T) {
	for _, req := range samples {
		t.Run(name(req), func(t *testing.T) {
			b, err := wire.Frame{Kind: wire.KindRequest, ID: 42, Op: opA, Body: wire.Encode(nil, req)}.Append(nil)
			if err != nil {
				t.Fatal(err)
			}
			f, n, err := wire.DecodeFrame(b)
			if err != nil || n != len(b) {
				t.Fatalf("DecodeFrame = %d, %v; want %d, nil", n, err, len(b))
			}
			if f.Kind != wire.KindRequest || f.ID != 42 || f.Op != opA {
				t.Fatalf("header = %v %d %v", f.Kind, f.ID, f.Op)
			}
			got := zero(req)
			if err := wire.Decode(f.Body, got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, req) {
				t.Fatalf("decoded %+v, want %+v", got, req)
			}
		})
	}
}

func TestReplyRoundTrip(t *testing.T) {
	for _, res := range samples {
		t.Run(name(res), func(t *testing.T) {
			b, err := wire.Frame{Kind: wire.KindReply, ID: 42, Op: opA, Body: wire.EncodeReply(nil, 0, "", res)}.Append(nil)
			if err != nil {
				t.Fatal(err)
			}
			f, _, err := wire.DecodeFrame(b)
			if err != nil {
				t.Fatal(err)
			}
			got := zero(res)
			errno, msg, err := wire.DecodeReply(f.Body, got)
			if err != nil || errno != 0 || msg != "" {
				t.Fatalf("DecodeReply = %v %q %v", errno, msg, err)
			}
			if !reflect.DeepEqual(got, res) {
				t.Fatalf("decoded %+v, want %+v", got, res)
			}

			// A failure carries the errno and message, and no results.
			body := wire.EncodeReply(nil, unix.ENOKEY, "keyring: "+name(res)+" 5: required key not available", res)
			got = zero(res)
			errno, msg, err = wire.DecodeReply(body, got)
			if err != nil || errno != unix.ENOKEY || msg == "" {
				t.Fatalf("DecodeReply of a failure = %v %q %v", errno, msg, err)
			}
			if !reflect.DeepEqual(got, zero(res)) {
				t.Fatalf("a failure filled the results: %+v", got)
			}
		})
	}
}

// An empty list decodes as nil, the way a list never set encodes.
func TestEmptySerialsReply(t *testing.T) {
	for _, res := range []*wire.SerialsReply{{}, {Serials: []int32{}}} {
		var got wire.SerialsReply
		if err := wire.Decode(wire.Encode(nil, res), &got); err != nil || got.Serials != nil {
			t.Fatalf("empty list decodes to %#v, %v", got.Serials, err)
		}
	}
}

func TestReadWriteFrame(t *testing.T) {
	var buf bytes.Buffer
	want := wire.Frame{Kind: wire.KindRecord, Op: opB, Body: []byte("0123456789abcdef")}
	for range 3 {
		if err := wire.WriteFrame(&buf, want); err != nil {
			t.Fatal(err)
		}
	}
	var scratch []byte
	for range 3 {
		f, b, err := wire.ReadFrame(&buf, scratch)
		if err != nil {
			t.Fatal(err)
		}
		scratch = b
		if f.Kind != want.Kind || f.Op != want.Op || !bytes.Equal(f.Body, want.Body) {
			t.Fatalf("read %+v, want %+v", f, want)
		}
	}
	if _, _, err := wire.ReadFrame(&buf, scratch); err != io.EOF {
		t.Fatalf("ReadFrame at the end = %v, want io.EOF", err)
	}
}

func frame(length uint32, rest ...byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, length), rest...)
}

func TestDecodeFrameErrors(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, unix.EBADMSG},
		{"short prefix", []byte{0, 0}, unix.EBADMSG},
		{"oversized", frame(wire.MaxFrameSize + 1), unix.EMSGSIZE},
		{"huge", frame(0xffffffff), unix.EMSGSIZE},
		{"shorter than header", frame(3, 1, 1, 0), unix.EBADMSG},
		{"truncated", frame(20, 1, 1, 0, 0, 0, 1, 0, 1), unix.EBADMSG},
		{"version 2", frame(8, 2, 1, 0, 0, 0, 1, 0, 1), unix.EPROTO},
		{"version 0", frame(8, 0, 1, 0, 0, 0, 1, 0, 1), unix.EPROTO},
		{"kind 0", frame(8, 1, 0, 0, 0, 0, 1, 0, 1), unix.EPROTO},
		{"kind 4", frame(8, 1, 4, 0, 0, 0, 1, 0, 1), unix.EPROTO},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := wire.DecodeFrame(tt.b)
			if !errors.Is(err, tt.want) {
				t.Fatalf("DecodeFrame = %v, want %v", err, tt.want)
			}
			_, _, err = wire.ReadFrame(bytes.NewReader(tt.b), nil)
			if err == nil {
				t.Fatal("ReadFrame accepted it")
			}
		})
	}
}

func TestBodyErrors(t *testing.T) {
	tests := []struct {
		name string
		body []byte
		m    wire.Message
	}{
		{"short", []byte{0, 0, 0}, &wire.KeyRequest{}},
		{"trailing", []byte{0, 0, 0, 1, 9}, &wire.KeyRequest{}},
		{"string past the end", []byte{0xff, 0xff, 0xff, 0xff, 'a'}, &wire.JoinSessionRequest{}},
		{"bool 2", []byte{0, 0, 0, 1, 0, 0, 0, 2}, &wire.GetKeyringIDRequest{}},
		{"list past the end", []byte{0x40, 0, 0, 0, 0, 0, 0, 1}, &wire.SerialsReply{}},
		{"list cut in a value", []byte{0, 0, 0, 2, 0, 0, 0, 1, 0, 0}, &wire.SerialsReply{}},
		{"list with trailing bytes", []byte{0, 0, 0, 1, 0, 0, 0, 1, 0}, &wire.SerialsReply{}},
		{"empty with a body", []byte{0}, &wire.Empty{}},
		{"move without flags", []byte{0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3}, &wire.MoveRequest{}},
		{"status rows past the end", statusBody(0x10000000, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0), &wire.StatusReply{}},
		{"status row cut", statusBody(1, 0, 0, 0, 1, 0, 0, 0, 1), &wire.StatusReply{}},
		{"status with trailing bytes", statusBody(0, 0), &wire.StatusReply{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := wire.Decode(tt.body, tt.m); !errors.Is(err, unix.EBADMSG) {
				t.Fatalf("Decode = %v, want EBADMSG", err)
			}
		})
	}
}

// statusBody is a StatusReply's body with empty paths, not private, up
// 1 ns, then count as its number of rows and rows as the bytes after it.
func statusBody(count uint32, rows ...byte) []byte {
	b := make([]byte, 12)
	b = binary.BigEndian.AppendUint64(b, 1)
	b = binary.BigEndian.AppendUint32(b, count)
	return append(b, rows...)
}

func TestOversizedBodyRefused(t *testing.T) {
	_, err := wire.Frame{Kind: wire.KindRequest, Op: opA, Body: make([]byte, wire.MaxFrameSize)}.Append(nil)
	if !errors.Is(err, unix.EMSGSIZE) {
		t.Fatalf("Append = %v, want EMSGSIZE", err)
	}
	// The largest payload add_key takes must fit.
	req := &wire.AddRequest{Type: "big_key", Description: string(make([]byte, 4095)), Payload: make([]byte, 1<<20-1)}
	if _, err := (wire.Frame{Kind: wire.KindRequest, Op: opA, Body: wire.Encode(nil, req)}).Append(nil); err != nil {
		t.Fatalf("largest add_key: %v", err)
	}
}

// A frame that announces more than it sends costs its reader no more than
// what arrived, plus one step.
func TestReadFrameGrowsWithData(t *testing.T) {
	b := header(wire.MaxFrameSize, 1, 1, 1, 1)
	b = append(b, make([]byte, 100)...)
	_, buf, err := wire.ReadFrame(bytes.NewReader(b), nil)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("ReadFrame = %v, want io.ErrUnexpectedEOF", err)
	}
	if cap(buf) > 128<<10 {
		t.Fatalf("allocated %d bytes for a frame that sent %d", cap(buf), len(b))
	}
	// And a large frame that does arrive is read whole.
	body := bytes.Repeat([]byte{5}, 1<<20)
	full, err := wire.Frame{Kind: wire.KindRequest, ID: 1, Op: opA, Body: body}.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	f, _, err := wire.ReadFrame(bytes.NewReader(full), make([]byte, 10))
	if err != nil || !bytes.Equal(f.Body, body) {
		t.Fatalf("ReadFrame of a 1 MiB body: %d bytes, %v", len(f.Body), err)
	}
}

func header(length uint32, version, kind byte, id uint32, op uint16) []byte {
	b := binary.BigEndian.AppendUint32(nil, length)
	b = append(b, version, kind)
	b = binary.BigEndian.AppendUint32(b, id)
	return binary.BigEndian.AppendUint16(b, op)
}

// AppendRequest and AppendReply write the bytes Frame.Append writes, after
// whatever dst already holds, so that frames can be batched in one buffer.
func TestAppendInPlace(t *testing.T) {
	prefix := []byte("earlier frames")
	for _, m := range samples {
		want, _ := wire.Frame{Kind: wire.KindRequest, ID: 7, Op: opA, Body: wire.Encode(nil, m)}.Append(bytes.Clone(prefix))
		got, err := wire.AppendRequest(bytes.Clone(prefix), 7, opA, m)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: AppendRequest = %x, %v; want %x", name(m), got, err, want)
		}
		for _, errno := range []unix.Errno{0, unix.EACCES} {
			want, _ := wire.Frame{Kind: wire.KindReply, ID: 8, Op: opB, Body: wire.EncodeReply(nil, errno, "why", m)}.Append(bytes.Clone(prefix))
			got, err := wire.AppendReply(bytes.Clone(prefix), 8, opB, errno, "why", m)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s errno %v: AppendReply = %x, %v; want %x", name(m), errno, got, err, want)
			}
		}
	}
}

// A frame over the limit is refused, and dst is left as it was, so a
// batch of frames already in it can still be sent.
func TestAppendOversizedLeavesDst(t *testing.T) {
	prefix := []byte("earlier frames")
	big := &wire.DataReply{Data: make([]byte, wire.MaxFrameSize)}
	got, err := wire.AppendReply(bytes.Clone(prefix), 1, opA, 0, "", big)
	if !errors.Is(err, unix.EMSGSIZE) || !bytes.Equal(got, prefix) {
		t.Fatalf("AppendReply of an oversized reply = %q…, %v; want the prefix, EMSGSIZE", got[:min(len(got), 20)], err)
	}
	got, err = wire.AppendRequest(bytes.Clone(prefix), 1, opB, &wire.UpdateRequest{Payload: big.Data})
	if !errors.Is(err, unix.EMSGSIZE) || !bytes.Equal(got, prefix) {
		t.Fatalf("AppendRequest of an oversized request = %q…, %v; want the prefix, EMSGSIZE", got[:min(len(got), 20)], err)
	}
}

func TestFrameBuffered(t *testing.T) {
	whole, _ := wire.AppendRequest(nil, 1, opA, &wire.KeyRequest{ID: 5})
	tests := []struct {
		name string
		b    []byte
		want bool
	}{
		{"nothing", nil, false},
		{"part of the prefix", whole[:3], false},
		{"prefix and part of the frame", whole[:len(whole)-1], false},
		{"a whole frame", whole, true},
		{"a frame and part of the next", append(bytes.Clone(whole), whole[:5]...), true},
		{"a prefix over the limit", frame(wire.MaxFrameSize + 1), true},
		{"a prefix under the header", frame(3), true},
	}
	for _, tt := range tests {
		if got := wire.FrameBuffered(tt.b); got != tt.want {
			t.Errorf("%s: FrameBuffered = %v, want %v", tt.name, got, tt.want)
		}
	}
}
