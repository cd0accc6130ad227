//go:build linux

package wire

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// Encoder appends fields to a body. The zero value is ready to use.
type Encoder struct {
	B []byte
}

// U32 appends an unsigned 32-bit integer.
func (e *Encoder) U32(v uint32) { e.B = binary.BigEndian.AppendUint32(e.B, v) }

// I32 appends a signed 32-bit integer, two's complement.
func (e *Encoder) I32(v int32) { e.U32(uint32(v)) }

// U64 appends an unsigned 64-bit integer.
func (e *Encoder) U64(v uint64) { e.B = binary.BigEndian.AppendUint64(e.B, v) }

// Bool appends a boolean as a u32, 0 or 1.
func (e *Encoder) Bool(v bool) {
	if v {
		e.U32(1)
	} else {
		e.U32(0)
	}
}

// Bytes appends a byte string: its length as a u32, then the bytes.
func (e *Encoder) Bytes(b []byte) {
	e.U32(uint32(len(b)))
	e.B = append(e.B, b...)
}

// String appends a string as a byte string.
func (e *Encoder) String(s string) {
	e.U32(uint32(len(s)))
	e.B = append(e.B, s...)
}

// I32s appends a list of signed 32-bit integers: the count as a u32,
// then the values.
func (e *Encoder) I32s(v []int32) {
	e.U32(uint32(len(v)))
	for _, x := range v {
		e.I32(x)
	}
}

// Decoder reads fields from a body, given by Reset (or by Decode and
// DecodeReply, which reset it). The first error sticks: later reads
// return zero values, and Finish reports it, so a decode function reads
// every field and checks once.
type Decoder struct {
	b   []byte
	err error
}

// Reset makes d a decoder over body, its error forgotten; Reset(nil)
// lets go of the last body, for a Decoder that is kept.
func (d *Decoder) Reset(body []byte) { *d = Decoder{b: body} }

func (d *Decoder) take(n int, what string) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b) {
		d.err = fmt.Errorf("wire: %s of %d bytes with %d left in the body: %w", what, n, len(d.b), unix.EBADMSG)
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

// U32 reads an unsigned 32-bit integer.
func (d *Decoder) U32() uint32 {
	b := d.take(4, "u32")
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}

// I32 reads a signed 32-bit integer.
func (d *Decoder) I32() int32 { return int32(d.U32()) }

// U64 reads an unsigned 64-bit integer.
func (d *Decoder) U64() uint64 {
	b := d.take(8, "u64")
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

// Bool reads a boolean; anything but 0 or 1 is EBADMSG, so that every
// value has one encoding.
func (d *Decoder) Bool() bool {
	v := d.U32()
	if v > 1 && d.err == nil {
		d.err = fmt.Errorf("wire: boolean field holds %d: %w", v, unix.EBADMSG)
	}
	return v == 1
}

// Bytes reads a byte string. The length is checked against what is left
// of the body before anything is taken; the result aliases the body.
func (d *Decoder) Bytes() []byte {
	n := d.U32()
	if d.err != nil {
		return nil
	}
	if uint64(n) > uint64(len(d.b)) {
		d.err = fmt.Errorf("wire: byte string of %d bytes with %d left in the body: %w", n, len(d.b), unix.EBADMSG)
		return nil
	}
	return d.take(int(n), "byte string")
}

// I32s reads a list of signed 32-bit integers. The count is checked
// against what is left of the body before the list is allocated. An empty
// list is nil, so that a decoded list compares equal to one never set.
func (d *Decoder) I32s() []int32 {
	n := d.count(4, "i32s")
	if n == 0 {
		return nil
	}
	v := make([]int32, n)
	for i := range v {
		v[i] = d.I32()
	}
	return v
}

// count reads a list's count, for elements of size bytes each, and
// checks it against what is left of the body, so that the caller may
// allocate the list; 0 after an error.
func (d *Decoder) count(size int, what string) int {
	n := d.U32()
	if d.err != nil {
		return 0
	}
	if uint64(n)*uint64(size) > uint64(len(d.b)) {
		d.err = fmt.Errorf("wire: list of %d %s with %d bytes left in the body: %w", n, what, len(d.b), unix.EBADMSG)
		return 0
	}
	return int(n)
}

// String reads a byte string as a string (a copy).
func (d *Decoder) String() string { return string(d.Bytes()) }

// Finish reports the first error, or EBADMSG if bytes are left over: a
// body with trailing bytes was not made by this version of the protocol.
func (d *Decoder) Finish() error {
	if d.err != nil {
		return d.err
	}
	if len(d.b) != 0 {
		return fmt.Errorf("wire: %d bytes left over after the body: %w", len(d.b), unix.EBADMSG)
	}
	return nil
}

// UUIDSize is a UUID's size on the wire (bytes): the 16 of RFC 9562,
// as a byte string of that length.
const UUIDSize = 16

// putUUID appends a UUID: a byte string of UUIDSize bytes.
func (e *Encoder) putUUID(id [UUIDSize]byte) { e.Bytes(id[:]) }

// uuid reads a UUID; a byte string of another length is EBADMSG, so
// that every UUID has one encoding.
func (d *Decoder) uuid() (id [UUIDSize]byte) {
	b := d.Bytes()
	if d.err == nil && len(b) != UUIDSize {
		d.err = fmt.Errorf("wire: a UUID of %d bytes, not %d: %w", len(b), UUIDSize, unix.EBADMSG)
	}
	copy(id[:], b)
	return id
}
