//go:build linux

package kcm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/keyctl-go/keyctl-go/ccache"
)

// Request is one request, its length prefix taken off: the operation and
// its marshalled arguments.
type Request struct {
	Op   Op
	Body []byte
}

// ErrMalformed means a request does not parse: too short, another protocol
// version, or an argument cut short or out of bounds. It is answered
// KRB5_CC_IO, as sssd-kcm answers a malformed packet, and changes nothing.
var ErrMalformed = errors.New("kcm: malformed request")

// malformed wraps ErrMalformed with what was being read.
func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

// DecodeRequest splits a request (what follows its length prefix) into
// its operation and arguments. It checks only the header; the arguments
// are read by the operation. Body aliases frame.
func DecodeRequest(frame []byte) (Request, error) {
	if len(frame) < requestHeaderLen {
		return Request{}, malformed("%d bytes, shorter than the header", len(frame))
	}
	if frame[0] != versionMajor || frame[1] != versionMinor {
		return Request{}, malformed("protocol version %d.%d, want %d.%d", frame[0], frame[1], versionMajor, versionMinor)
	}
	return Request{Op: Op(binary.BigEndian.Uint16(frame[2:])), Body: frame[requestHeaderLen:]}, nil
}

// AppendRequest appends the frame of a request, length prefix included:
// what MIT's kcmreq_init and kcmio_unix_socket_write send.
func AppendRequest(b []byte, op Op, body []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(requestHeaderLen+len(body)))
	b = append(b, versionMajor, versionMinor)
	b = binary.BigEndian.AppendUint16(b, uint16(op))
	return append(b, body...)
}

// args reads an operation's arguments, in the order kcm.h lists them.
// Every read checks the bytes left before it takes any; nothing it
// returns aliases the request.
type args struct {
	b []byte
}

// name reads a cache name: bytes up to a NUL, which MIT always sends.
func (a *args) name() (string, error) {
	i := bytes.IndexByte(a.b, 0)
	if i < 0 {
		return "", malformed("cache name without its terminating NUL")
	}
	s := string(a.b[:i])
	a.b = a.b[i+1:]
	return s, nil
}

func (a *args) u32(what string) (uint32, error) {
	if len(a.b) < 4 {
		return 0, malformed("%s cut short", what)
	}
	v := binary.BigEndian.Uint32(a.b)
	a.b = a.b[4:]
	return v, nil
}

func (a *args) uuid() (uuid.UUID, error) {
	var u uuid.UUID
	if len(a.b) < uuidLen {
		return u, malformed("UUID cut short")
	}
	copy(u[:], a.b)
	a.b = a.b[uuidLen:]
	return u, nil
}

func (a *args) principal() (ccache.Principal, error) {
	p, rest, err := ccache.DecodePrincipal(a.b)
	if err != nil {
		return p, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	a.b = rest
	return p, nil
}

// credential reads a version 4 credential record and returns it with its
// bytes as sent.
func (a *args) credential() (ccache.Credential, error) {
	c, rest, err := ccache.DecodeCredential(a.b)
	if err != nil {
		return c, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	a.b = rest
	return c, nil
}

// sizedCredential reads a u32 length and a credential record of exactly
// that length (REPLACE's credentials).
func (a *args) sizedCredential() (ccache.Credential, error) {
	n, err := a.u32("credential length")
	if err != nil {
		return ccache.Credential{}, err
	}
	if uint64(n) > uint64(len(a.b)) {
		return ccache.Credential{}, malformed("credential of %d bytes, %d left", n, len(a.b))
	}
	c, rest, err := ccache.DecodeCredential(a.b[:n])
	if err != nil {
		return c, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if len(rest) != 0 {
		return c, malformed("%d bytes after a credential within its length", len(rest))
	}
	a.b = a.b[n:]
	return c, nil
}

// count reads a u32 element count that cannot exceed what is left, given
// that each element takes at least min bytes.
func (a *args) count(what string, min int) (int, error) {
	n, err := a.u32(what)
	if err != nil {
		return 0, err
	}
	if uint64(n)*uint64(min) > uint64(len(a.b)) {
		return 0, malformed("%s %d with %d bytes left", what, n, len(a.b))
	}
	return int(n), nil
}

// data reads a u32 length and that many bytes.
func (a *args) data(what string) ([]byte, error) {
	n, err := a.u32(what + " length")
	if err != nil {
		return nil, err
	}
	if uint64(n) > uint64(len(a.b)) {
		return nil, malformed("%s of %d bytes, %d left", what, n, len(a.b))
	}
	d := bytes.Clone(a.b[:n])
	a.b = a.b[n:]
	return d, nil
}

// end checks that nothing is left: a request with bytes after its last
// argument is not one MIT sends.
func (a *args) end() error {
	if len(a.b) != 0 {
		return malformed("%d bytes after the last argument", len(a.b))
	}
	return nil
}
