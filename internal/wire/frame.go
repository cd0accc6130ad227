//go:build linux

package wire

import (
	"encoding/binary"
	"fmt"
	"io"
	"slices"

	"golang.org/x/sys/unix"
)

// Version is the protocol version this package speaks. A frame with any
// other version is EPROTO: the peer must be upgraded, not guessed at.
const Version = 1

// Sizes, in bytes.
const (
	// LengthSize is the length prefix in front of every frame.
	LengthSize = 4
	// HeaderSize is the version, kind, id and op after the length prefix.
	HeaderSize = 1 + 1 + 4 + 2
	// MaxFrameSize bounds what the length prefix may announce: room for the
	// largest payload add_key takes (1 MiB - 1) with its type and
	// description, and nothing that lets a peer make the other side
	// allocate much more.
	MaxFrameSize = 1<<20 + 64<<10
)

// Kind says what a frame carries.
type Kind uint8

// Frame kinds.
const (
	KindRequest Kind = 1 // client to daemon
	KindReply   Kind = 2 // daemon to client, answering the request with the same id
	KindRecord  Kind = 3 // daemon to client, unasked: notification records from watches
)

func (k Kind) String() string {
	switch k {
	case KindRequest:
		return "request"
	case KindReply:
		return "reply"
	case KindRecord:
		return "record"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Frame is one decoded frame. Body aliases the buffer it was decoded from.
type Frame struct {
	Kind Kind
	ID   uint32
	Op   Op
	Body []byte
}

// Append appends f's encoding, length prefix first, to dst. A body that
// makes the frame larger than MaxFrameSize is EMSGSIZE: the peer would
// refuse it.
func (f Frame) Append(dst []byte) ([]byte, error) {
	n := HeaderSize + len(f.Body)
	if n > MaxFrameSize {
		return dst, fmt.Errorf("wire: %v frame of %d bytes over the %d-byte limit: %w", f.Kind, n, MaxFrameSize, unix.EMSGSIZE)
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(n))
	dst = append(dst, Version, byte(f.Kind))
	dst = binary.BigEndian.AppendUint32(dst, f.ID)
	dst = binary.BigEndian.AppendUint16(dst, uint16(f.Op))
	return append(dst, f.Body...), nil
}

// AppendRequest appends a request frame carrying m to dst, encoding m's
// fields in place: the same bytes as a Frame with Body Encode(nil, m),
// without the body's own buffer.
func AppendRequest(dst []byte, id uint32, op Op, m Message) ([]byte, error) {
	e := Encoder{B: dst}
	err := e.Request(id, op, m)
	return e.B, err
}

// AppendReply appends a reply frame to dst, encoding it in place: the same
// bytes as a Frame with Body EncodeReply(nil, errno, msg, res).
func AppendReply(dst []byte, id uint32, op Op, errno unix.Errno, msg string, res Message) ([]byte, error) {
	e := Encoder{B: dst}
	err := e.Reply(id, op, errno, msg, res)
	return e.B, err
}

// Request is AppendRequest onto e.B. An Encoder that lives as long as
// its buffer (a connection's, a pooled one) sends requests without
// allocating: AppendRequest's own Encoder escapes through m's methods.
func (e *Encoder) Request(id uint32, op Op, m Message) error {
	start := len(e.B)
	e.B = appendHeader(e.B, KindRequest, id, op)
	m.EncodeFields(e)
	var err error
	e.B, err = endFrame(e.B, start, KindRequest)
	return err
}

// Reply is AppendReply onto e.B, without allocating, as Request.
func (e *Encoder) Reply(id uint32, op Op, errno unix.Errno, msg string, res Message) error {
	start := len(e.B)
	e.B = appendHeader(e.B, KindReply, id, op)
	e.replyBody(errno, msg, res)
	var err error
	e.B, err = endFrame(e.B, start, KindReply)
	return err
}

// appendHeader appends a frame's header with a length prefix of 0, for
// endFrame to fill in once the body is there.
func appendHeader(dst []byte, kind Kind, id uint32, op Op) []byte {
	dst = append(dst, 0, 0, 0, 0, Version, byte(kind))
	dst = binary.BigEndian.AppendUint32(dst, id)
	return binary.BigEndian.AppendUint16(dst, uint16(op))
}

// endFrame fills in the length prefix of the frame that starts at
// b[start]. A frame over MaxFrameSize is cut off again, leaving b as it
// was before the frame, and is EMSGSIZE.
func endFrame(b []byte, start int, kind Kind) ([]byte, error) {
	n := len(b) - start - LengthSize
	if n > MaxFrameSize {
		return b[:start], fmt.Errorf("wire: %v frame of %d bytes over the %d-byte limit: %w", kind, n, MaxFrameSize, unix.EMSGSIZE)
	}
	binary.BigEndian.PutUint32(b[start:], uint32(n))
	return b, nil
}

// FrameBuffered reports whether b holds at least one whole frame, length
// prefix included, or a length prefix that is already known to be bad (so
// that decoding it will not wait for more bytes). A server uses it to tell
// whether the next request is already here, and it may hold its replies
// back to write them together.
func FrameBuffered(b []byte) bool {
	if len(b) < LengthSize {
		return false
	}
	n := binary.BigEndian.Uint32(b)
	return n > MaxFrameSize || n < HeaderSize || uint64(len(b)-LengthSize) >= uint64(n)
}

// DecodeFrame decodes the frame at the start of b, length prefix
// included, and returns it with the number of bytes it took. It checks
// the frame's shape only (length, version, kind); the op and body are
// checked when the body is decoded, so that a reply can still name the
// request that was wrong.
func DecodeFrame(b []byte) (Frame, int, error) {
	if len(b) < LengthSize {
		return Frame{}, 0, fmt.Errorf("wire: frame truncated in its length prefix (%d bytes): %w", len(b), unix.EBADMSG)
	}
	n, err := checkLength(binary.BigEndian.Uint32(b))
	if err != nil {
		return Frame{}, 0, err
	}
	if len(b)-LengthSize < n {
		return Frame{}, 0, fmt.Errorf("wire: frame of %d bytes truncated at %d: %w", n, len(b)-LengthSize, unix.EBADMSG)
	}
	f, err := decodeHeader(b[LengthSize : LengthSize+n])
	return f, LengthSize + n, err
}

// ReadFrame reads one frame from r into buf, growing it only up to the
// size the frame announced once that size has been checked, and returns
// the frame and the buffer for reuse. The frame's Body aliases the
// buffer. An io.EOF before the first byte is returned as is, so a clean
// disconnect can be told from a torn frame (io.ErrUnexpectedEOF).
func ReadFrame(r io.Reader, buf []byte) (Frame, []byte, error) {
	var prefix [LengthSize]byte
	if _, err := io.ReadFull(r, prefix[:]); err != nil {
		return Frame{}, buf, err
	}
	n, err := checkLength(binary.BigEndian.Uint32(prefix[:]))
	if err != nil {
		return Frame{}, buf, err
	}
	buf, err = readBody(r, buf, n)
	if err != nil {
		return Frame{}, buf, err
	}
	f, err := decodeHeader(buf)
	return f, buf, err
}

// growStep is the most readBody allocates ahead of what has arrived
// (bytes), so that a peer announcing a large frame and sending little
// costs this side little.
const growStep = 64 << 10

// readBody reads the n bytes of a frame after its prefix into buf,
// growing it at most growStep ahead of the data.
func readBody(r io.Reader, buf []byte, n int) ([]byte, error) {
	buf = buf[:0]
	for len(buf) < n {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(n-len(buf), max(len(buf), growStep)))
		}
		m, err := r.Read(buf[len(buf):min(cap(buf), n)])
		buf = buf[:len(buf)+m]
		if err != nil && len(buf) < n {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return buf, err
		}
	}
	return buf, nil
}

// WriteFrame writes f to w in a single Write, so that frames written by
// one goroutine at a time never interleave.
func WriteFrame(w io.Writer, f Frame) error {
	b, err := f.Append(make([]byte, 0, LengthSize+HeaderSize+len(f.Body)))
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

func checkLength(n uint32) (int, error) {
	if n > MaxFrameSize {
		return 0, fmt.Errorf("wire: frame of %d bytes over the %d-byte limit: %w", n, MaxFrameSize, unix.EMSGSIZE)
	}
	if n < HeaderSize {
		return 0, fmt.Errorf("wire: frame of %d bytes shorter than its %d-byte header: %w", n, HeaderSize, unix.EBADMSG)
	}
	return int(n), nil
}

// decodeHeader decodes a frame without its length prefix.
func decodeHeader(b []byte) (Frame, error) {
	f := Frame{
		Kind: Kind(b[1]),
		ID:   binary.BigEndian.Uint32(b[2:]),
		Op:   Op(binary.BigEndian.Uint16(b[6:])),
		Body: b[HeaderSize:],
	}
	if b[0] != Version {
		return f, fmt.Errorf("wire: protocol version %d, want %d: %w", b[0], Version, unix.EPROTO)
	}
	if f.Kind < KindRequest || f.Kind > KindRecord {
		return f, fmt.Errorf("wire: unknown frame %v: %w", f.Kind, unix.EPROTO)
	}
	return f, nil
}
