//go:build linux

package watchqueue

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// Type is a notification source, the 24-bit type field of a record header.
type Type uint32

// The built-in notification types (include/uapi/linux/watch_queue.h).
const (
	TypeMeta      Type = 0 // WATCH_TYPE_META: removal and loss records
	TypeKeyNotify Type = 1 // WATCH_TYPE_KEY_NOTIFY: key and keyring changes

	// MaxType is the largest value the 24-bit type field can hold.
	MaxType Type = 1<<24 - 1
)

// Subtypes of TypeMeta.
const (
	MetaRemoval uint8 = 0 // WATCH_META_REMOVAL_NOTIFICATION
	MetaLoss    uint8 = 1 // WATCH_META_LOSS_NOTIFICATION
)

// KeySubtype is the subtype of a TypeKeyNotify record: what happened to the key.
type KeySubtype uint8

// Key notification subtypes (enum key_notification_subtype).
const (
	KeyInstantiated KeySubtype = 0 // aux: 0, or the negated error of a rejected key
	KeyUpdated      KeySubtype = 1
	KeyLinked       KeySubtype = 2 // aux: the key that was linked
	KeyUnlinked     KeySubtype = 3 // aux: the key that was unlinked
	KeyCleared      KeySubtype = 4
	KeyRevoked      KeySubtype = 5
	KeyInvalidated  KeySubtype = 6
	KeySetattr      KeySubtype = 7
)

var keySubtypeNames = [...]string{"inst", "upd", "link", "unlk", "clr", "rev", "inv", "attr"}

// String returns the short name keyutils' `keyctl watch` prints for s.
func (s KeySubtype) String() string {
	if int(s) < len(keySubtypeNames) {
		return keySubtypeNames[s]
	}
	return fmt.Sprintf("subtype(%d)", uint8(s))
}

// Bits of the header's info word.
const (
	InfoLength   uint32 = 0x0000007f // total record length in bytes, header included
	InfoID       uint32 = 0x0000ff00 // tag of the watch that delivered the record
	InfoIDShift         = 8
	InfoTypeInfo uint32 = 0xffff0000 // type-specific bits; 0 for keys
)

// Record sizes, in bytes.
const (
	HeaderSize    = 8   // struct watch_notification
	MaxRecordSize = 127 // the largest length InfoLength can express
	RevisionSize  = 8   // the u64 appended to every record of a queue that keeps revisions

	keyRecordSize     = 16 // struct key_notification
	removalRecordSize = 16 // struct watch_notification_removal
	lossRecordSize    = 8
)

// Header is struct watch_notification: the 8 bytes every record starts with.
type Header struct {
	Type    Type  // 24 bits
	Subtype uint8 // 8 bits
	Info    uint32
}

// Len is the total length of the record in bytes, from the info word.
func (h Header) Len() int { return int(h.Info & InfoLength) }

// Tag is the tag of the watch that delivered the record.
func (h Header) Tag() uint8 { return uint8((h.Info & InfoID) >> InfoIDShift) }

// put writes h into the first 8 bytes of b in the kernel's little-endian layout.
func (h Header) put(b []byte) {
	binary.LittleEndian.PutUint32(b[0:], uint32(h.Type)&uint32(MaxType)|uint32(h.Subtype)<<24)
	binary.LittleEndian.PutUint32(b[4:], h.Info)
}

// DecodeHeader reads the header at the start of b without validating its length field.
func DecodeHeader(b []byte) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, fmt.Errorf("watchqueue: record header needs %d bytes, have %d: %w", HeaderSize, len(b), unix.EBADMSG)
	}
	w := binary.LittleEndian.Uint32(b)
	return Header{Type: Type(w & uint32(MaxType)), Subtype: uint8(w >> 24), Info: binary.LittleEndian.Uint32(b[4:])}, nil
}

// Record is a decoded notification: a KeyNotification, Removal, Loss or Raw.
type Record interface {
	// Header returns the record's header as it stood in the queue.
	Header() Header
	// AppendBinary appends the record's kernel encoding to dst: the bare
	// kernel layout, or with the 8-byte revision after it when
	// withRevision is set.
	AppendBinary(dst []byte, withRevision bool) []byte
}

// KeyNotification is struct key_notification: something happened to a key.
type KeyNotification struct {
	Subtype  KeySubtype
	Tag      uint8
	KeyID    uint32 // serial of the key the event was posted on
	Aux      uint32 // the linked or unlinked key, or an instantiation error
	Revision uint64 // set only on queues that keep revisions
}

// Header implements Record.
func (k KeyNotification) Header() Header {
	return Header{Type: TypeKeyNotify, Subtype: uint8(k.Subtype), Info: uint32(k.Tag)<<InfoIDShift | keyRecordSize}
}

// AppendBinary implements Record.
func (k KeyNotification) AppendBinary(dst []byte, withRevision bool) []byte {
	var b [keyRecordSize + RevisionSize]byte
	k.Header().put(b[:])
	binary.LittleEndian.PutUint32(b[8:], k.KeyID)
	binary.LittleEndian.PutUint32(b[12:], k.Aux)
	return appendWithRevision(dst, b[:keyRecordSize], k.Revision, withRevision)
}

// Removal says a watch is gone: removed by its owner, or its object was destroyed.
type Removal struct {
	Tag      uint8
	ID       uint64 // the watched object's id (a key's serial); 0 when HasID is false
	HasID    bool   // the 16-byte form; the 8-byte form carries no id
	Revision uint64
}

// Header implements Record.
func (r Removal) Header() Header {
	n := uint32(HeaderSize)
	if r.HasID {
		n = removalRecordSize
	}
	return Header{Type: TypeMeta, Subtype: MetaRemoval, Info: uint32(r.Tag)<<InfoIDShift | n}
}

// AppendBinary implements Record.
func (r Removal) AppendBinary(dst []byte, withRevision bool) []byte {
	var b [removalRecordSize + RevisionSize]byte
	h := r.Header()
	h.put(b[:])
	binary.LittleEndian.PutUint64(b[8:], r.ID)
	return appendWithRevision(dst, b[:h.Len()], r.Revision, withRevision)
}

// Loss says records were dropped because the queue was full. It follows the
// last record that was delivered before the gap.
type Loss struct {
	// Revision is the revision of that last delivered record, on queues that
	// keep revisions: everything after it up to the next record read may
	// have changed.
	Revision uint64
}

// Header implements Record. A loss record carries no watch tag.
func (Loss) Header() Header {
	return Header{Type: TypeMeta, Subtype: MetaLoss, Info: lossRecordSize}
}

// AppendBinary implements Record.
func (l Loss) AppendBinary(dst []byte, withRevision bool) []byte {
	var b [lossRecordSize]byte
	l.Header().put(b[:])
	return appendWithRevision(dst, b[:], l.Revision, withRevision)
}

// Raw is a record of a type this package does not decode: a registered
// program-defined type, or a meta subtype it does not know.
type Raw struct {
	Hdr      Header
	Data     []byte // the bytes after the header, revision excluded; Decode copies them
	Revision uint64
}

// Header implements Record.
func (r Raw) Header() Header { return r.Hdr }

// AppendBinary implements Record. The length field is recomputed from Data.
func (r Raw) AppendBinary(dst []byte, withRevision bool) []byte {
	var b [MaxRecordSize]byte
	h := r.Hdr
	n := copy(b[HeaderSize:], r.Data) + HeaderSize
	h.Info = h.Info&^InfoLength | uint32(n)
	h.put(b[:])
	return appendWithRevision(dst, b[:n], r.Revision, withRevision)
}

func appendWithRevision(dst, rec []byte, rev uint64, withRevision bool) []byte {
	if !withRevision {
		return append(dst, rec...)
	}
	start := len(dst)
	dst = append(dst, rec...)
	dst = binary.LittleEndian.AppendUint64(dst, rev)
	setLen(dst[start:], len(rec)+RevisionSize)
	return dst
}

// setLen rewrites the length bits of the header at the start of rec.
func setLen(rec []byte, n int) {
	info := binary.LittleEndian.Uint32(rec[4:])
	binary.LittleEndian.PutUint32(rec[4:], info&^InfoLength|uint32(n))
}

// Decode decodes the record at the start of b and returns it with its
// length. withRevision says whether the records come from a queue that keeps
// revisions (Options.Revisions); the caller knows, because it made the queue.
//
// A length field below the smallest record of its kind, or beyond the end of
// b, is EBADMSG: a reader walking a buffer by length cannot go on past it.
func Decode(b []byte, withRevision bool) (Record, int, error) {
	h, err := DecodeHeader(b)
	if err != nil {
		return nil, 0, err
	}
	n := h.Len()
	extra := 0
	if withRevision {
		extra = RevisionSize
	}
	if n < HeaderSize+extra || n > len(b) {
		return nil, 0, fmt.Errorf("watchqueue: record length %d (buffer holds %d): %w", n, len(b), unix.EBADMSG)
	}
	body := b[HeaderSize : n-extra]
	var rev uint64
	if withRevision {
		rev = binary.LittleEndian.Uint64(b[n-extra : n])
	}
	var typed Record
	switch {
	case h.Type == TypeKeyNotify && len(body) == keyRecordSize-HeaderSize:
		typed = KeyNotification{
			Subtype:  KeySubtype(h.Subtype),
			Tag:      h.Tag(),
			KeyID:    binary.LittleEndian.Uint32(body),
			Aux:      binary.LittleEndian.Uint32(body[4:]),
			Revision: rev,
		}
	case h.Type == TypeMeta && h.Subtype == MetaRemoval && len(body) == 0:
		typed = Removal{Tag: h.Tag(), Revision: rev}
	case h.Type == TypeMeta && h.Subtype == MetaRemoval && len(body) == removalRecordSize-HeaderSize:
		typed = Removal{Tag: h.Tag(), ID: binary.LittleEndian.Uint64(body), HasID: true, Revision: rev}
	case h.Type == TypeMeta && h.Subtype == MetaLoss && len(body) == 0:
		typed = Loss{Revision: rev}
	}
	// A typed value only where it says everything the bytes said: a header
	// with bits the type does not define (type-specific info bits on a key
	// record, a tag on a loss record) stays Raw, so decoding never loses
	// anything and re-encoding gives the same bytes.
	if typed != nil && typed.Header().Info == h.Info-uint32(extra) {
		return typed, n, nil
	}
	// Copied, so that a Raw outlives the read buffer it came from.
	return Raw{Hdr: h, Data: bytes.Clone(body), Revision: rev}, n, nil
}
