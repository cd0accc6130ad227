package wire_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/wire"
)

// requests holds one request of every op, with fields that are not zero
// so that a field dropped on the way shows.
var requests = map[wire.Op]wire.Message{
	wire.OpAdd:          &wire.AddRequest{Type: "user", Description: "desc", Payload: []byte("secret"), Ring: -4},
	wire.OpRead:         &wire.KeyRequest{ID: 123},
	wire.OpDescribe:     &wire.KeyRequest{ID: 124},
	wire.OpSearch:       &wire.SearchRequest{Ring: -3, Type: "user", Description: "x", Dest: 7},
	wire.OpLink:         &wire.LinkRequest{Key: 1, Ring: 2},
	wire.OpUnlink:       &wire.LinkRequest{Key: 3, Ring: 4},
	wire.OpUpdate:       &wire.UpdateRequest{ID: 5, Payload: []byte{0, 1, 2}},
	wire.OpRevoke:       &wire.KeyRequest{ID: 6},
	wire.OpInvalidate:   &wire.KeyRequest{ID: 7},
	wire.OpGetKeyringID: &wire.GetKeyringIDRequest{ID: -2, Create: true},
	wire.OpJoinSession:  &wire.JoinSessionRequest{Name: "s"},
	wire.OpAdoptSession: &wire.KeyRequest{ID: 8},
	wire.OpWatch:        &wire.WatchRequest{ID: -4, Tag: 255},
}

func TestRequestRoundTrip(t *testing.T) {
	for op, req := range requests {
		t.Run(op.String(), func(t *testing.T) {
			b, err := wire.Frame{Kind: wire.KindRequest, ID: 42, Op: op, Body: wire.Encode(nil, req)}.Append(nil)
			if err != nil {
				t.Fatal(err)
			}
			f, n, err := wire.DecodeFrame(b)
			if err != nil || n != len(b) {
				t.Fatalf("DecodeFrame = %d, %v; want %d, nil", n, err, len(b))
			}
			if f.Kind != wire.KindRequest || f.ID != 42 || f.Op != op {
				t.Fatalf("header = %v %d %v", f.Kind, f.ID, f.Op)
			}
			got, err := wire.NewRequest(op)
			if err != nil {
				t.Fatal(err)
			}
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
	res := &wire.DescribeReply{Type: "user", UID: 1, GID: 2, Perm: 0x3f010000, Description: "d"}
	body := wire.EncodeReply(nil, 0, "", res)
	got := &wire.DescribeReply{}
	errno, msg, err := wire.DecodeReply(body, got)
	if err != nil || errno != 0 || msg != "" || *got != *res {
		t.Fatalf("DecodeReply = %v %q %v %+v", errno, msg, err, got)
	}

	body = wire.EncodeReply(nil, unix.ENOKEY, "keyring: read 5: required key not available", nil)
	errno, msg, err = wire.DecodeReply(body, &wire.DataReply{})
	if err != nil || errno != unix.ENOKEY || msg == "" {
		t.Fatalf("DecodeReply of a failure = %v %q %v", errno, msg, err)
	}
}

func TestReadWriteFrame(t *testing.T) {
	var buf bytes.Buffer
	want := wire.Frame{Kind: wire.KindRecord, Op: wire.OpWatch, Body: []byte("0123456789abcdef")}
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
	if _, err := wire.NewRequest(99); !errors.Is(err, unix.EOPNOTSUPP) {
		t.Fatalf("NewRequest(99) = %v, want EOPNOTSUPP", err)
	}
	if _, err := wire.NewReply(0); !errors.Is(err, unix.EOPNOTSUPP) {
		t.Fatalf("NewReply(0) = %v, want EOPNOTSUPP", err)
	}
	tests := []struct {
		name string
		body []byte
		m    wire.Message
	}{
		{"short", []byte{0, 0, 0}, &wire.KeyRequest{}},
		{"trailing", []byte{0, 0, 0, 1, 9}, &wire.KeyRequest{}},
		{"string past the end", []byte{0xff, 0xff, 0xff, 0xff, 'a'}, &wire.JoinSessionRequest{}},
		{"bool 2", []byte{0, 0, 0, 1, 0, 0, 0, 2}, &wire.GetKeyringIDRequest{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := wire.Decode(tt.body, tt.m); !errors.Is(err, unix.EBADMSG) {
				t.Fatalf("Decode = %v, want EBADMSG", err)
			}
		})
	}
}

func TestOversizedBodyRefused(t *testing.T) {
	_, err := wire.Frame{Kind: wire.KindRequest, Op: wire.OpAdd, Body: make([]byte, wire.MaxFrameSize)}.Append(nil)
	if !errors.Is(err, unix.EMSGSIZE) {
		t.Fatalf("Append = %v, want EMSGSIZE", err)
	}
	// The largest payload add_key takes must fit.
	req := &wire.AddRequest{Type: "big_key", Description: string(make([]byte, 4095)), Payload: make([]byte, 1<<20-1)}
	if _, err := (wire.Frame{Kind: wire.KindRequest, Op: wire.OpAdd, Body: wire.Encode(nil, req)}).Append(nil); err != nil {
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
	full, err := wire.Frame{Kind: wire.KindRequest, ID: 1, Op: wire.OpAdd, Body: body}.Append(nil)
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
