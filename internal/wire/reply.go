//go:build linux

package wire

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// MaxErrorMessage bounds the error text a reply carries (bytes): enough
// for the store's messages, which name an operation and a few ids, and
// cut rather than let one error fill a frame.
const MaxErrorMessage = 1024

// EncodeReply appends a reply body to dst: errno and message, then res's
// fields if errno is 0. res may be nil for a failure.
func EncodeReply(dst []byte, errno unix.Errno, msg string, res Message) []byte {
	e := Encoder{B: dst}
	e.replyBody(errno, msg, res)
	return e.B
}

func (e *Encoder) replyBody(errno unix.Errno, msg string, res Message) {
	if len(msg) > MaxErrorMessage {
		msg = msg[:MaxErrorMessage]
	}
	e.U32(uint32(errno))
	e.String(msg)
	if errno == 0 && res != nil {
		res.EncodeFields(e)
	}
}

// DecodeReply decodes a reply body. On success it fills res and returns
// errno 0; on failure it returns the daemon's errno and message and
// leaves res alone. err is for a body that does not parse (EBADMSG).
func DecodeReply(body []byte, res Message) (errno unix.Errno, msg string, err error) {
	return new(Decoder).DecodeReply(body, res)
}

// DecodeReply is the package's DecodeReply with d, which it resets: a
// Decoder that lives as long as its user (a connection's, a pooled one)
// decodes without allocating, where DecodeReply's own escapes through
// res's methods.
func (d *Decoder) DecodeReply(body []byte, res Message) (errno unix.Errno, msg string, err error) {
	d.Reset(body)
	defer d.Reset(nil)
	errno = unix.Errno(d.U32())
	msg = d.String()
	if d.err == nil && len(msg) > MaxErrorMessage {
		return 0, "", fmt.Errorf("wire: error message of %d bytes over %d: %w", len(msg), MaxErrorMessage, unix.EBADMSG)
	}
	if errno == 0 {
		res.DecodeFields(d)
	}
	if err := d.Finish(); err != nil {
		return 0, "", err
	}
	return errno, msg, nil
}
