//go:build linux

package keystore

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Key flags, as stored. They mirror the kernel's KEY_FLAG_* bits that
// outlive a call; the values are this format's own.
const (
	FlagRevoked     uint32 = 1 << 0 // KEY_FLAG_REVOKED
	FlagInvalidated uint32 = 1 << 1 // KEY_FLAG_INVALIDATED
	FlagNegative    uint32 = 1 << 2 // negatively instantiated; Reject holds the error
	FlagInQuota     uint32 = 1 << 3 // KEY_FLAG_IN_QUOTA: charged to its owner
	FlagKeep        uint32 = 1 << 4 // KEY_FLAG_KEEP: cannot be revoked, invalidated or cleared
	FlagRestricted  uint32 = 1 << 5 // a keyring with a link restriction (Restriction)
	// FlagUnderConstruction marks a key that request_key made and a helper
	// has yet to instantiate or negate (KEY_FLAG_USER_CONSTRUCT). Bit 6 is
	// FlagVolatile's, which is never stored.
	FlagUnderConstruction uint32 = 1 << 7

	knownFlags = FlagRevoked | FlagInvalidated | FlagNegative | FlagInQuota | FlagKeep | FlagRestricted | FlagUnderConstruction
)

// Limits the record format enforces, the kernel's own.
const (
	MaxTypeLen        = 31   // bytes in a key type name
	MaxDescriptionLen = 4095 // bytes in a description
	MaxRestrictionLen = 4095 // bytes in a keyring restriction

	expiryPermanent = 0
)

// KeyRecord is everything the store keeps about a key except its payload.
// Its description and restriction are sealed in the file (see
// Sealer.sealRecord); the rest is in clear: owners, permissions, flags,
// times and counts are not secret in the kernel either (/proc/keys shows
// them), and the store must read them to decide who may touch a key.
type KeyRecord struct {
	Serial      uint32
	Type        string
	Description string
	UID, GID    uint32
	Perm        uint32
	Flags       uint32
	// Expiry is when the key expires, in Unix nanoseconds; 0 is never. A
	// revoked key's Expiry is when it was revoked, as in the kernel, where
	// revocation time and expiry share storage so gc can reap both.
	Expiry int64
	CTime  int64 // creation, Unix nanoseconds
	// DataLen is the payload length for keys with payloads, the number of
	// links for keyrings.
	DataLen uint32
	// QuotaBytes is what the key is charged against its owner's byte quota.
	QuotaBytes uint32
	// Links is how many stored keyrings link this key. Links from a
	// process's thread and process keyrings live in memory only.
	Links uint32
	// Pins is how many stored holders keep the key without a link: a name
	// in the registry, a session handed to a process tree.
	Pins uint32
	// NextSeq is, for a keyring, the position its next link takes, so that
	// contents keep insertion order.
	NextSeq uint64
	// Reject is the errno a negative key reports.
	Reject uint32
	// Restriction is, for a restricted keyring, "" (reject all links) or the
	// restriction string; meaningful only with FlagRestricted.
	RestrictType string
	Restriction  string

	// sealed is the sealed part the record was read with (Tx.Key) or last
	// stored with (Tx.PutKey). While the serial, type, description and
	// restriction are the same, PutKey stores it again and RecordHash
	// returns its hash, instead of sealing and hashing anew.
	sealed *sealedPart
}

// IsKeyring reports whether the key is a keyring.
func (r *KeyRecord) IsKeyring() bool { return r.Type == "keyring" }

// Held reports whether anything stored keeps the key alive.
func (r *KeyRecord) Held() bool { return r.Links > 0 || r.Pins > 0 }

// The stored record, format version 2 (schema 6 on). Big-endian
// throughout, like the keys of the buckets:
//
//	u8  version (2)
//	u32 serial, uid, gid, perm, flags, datalen, quota bytes, links, pins
//	u64 expiry, ctime, next seq; u32 reject is folded into the fourth u64's low half
//	u8  type length
//	    type
//	16  the key's DescHash sum: what the keyrings' indexes know it by
//	    the sealed part (Sealer.Seal), to the end of the record
//
// The sealed part's plaintext is the description and the restriction:
//
//	u16 description length
//	    description
//	    restriction type NUL restriction (nothing when both are "")
//
// The seal is bound to "record", NUL, the serial (u32), the hash and the
// type: a sealed part moved to another key, or a hash or type changed
// beside it, fails to open. The counts, owners, mask, flags and times
// are not in the binding, so that a change to them rewrites the clear
// part alone; they are as unauthenticated as they were in clear records
// (see Caveats).
const (
	keyRecordVersion   = 2
	keyRecordCounts    = 4*9 + 8*4 // the nine u32s and four u64s
	keyRecordFixedSize = 1 + keyRecordCounts + 1 + descHashLen
	minKeyRecordSize   = keyRecordFixedSize + 1 + SealOverhead + 2
	maxKeyRecordSize   = keyRecordFixedSize + MaxTypeLen + SealOverhead + 2 + MaxDescriptionLen + MaxTypeLen + 1 + MaxRestrictionLen
	recordBindingLabel = "record\x00"
)

// sealedPart is a record's sealed part, with what it opens to and what it
// is bound to.
type sealedPart struct {
	serial uint32
	hash   DescHash
	bytes  []byte // as stored; the Tx's own copy, never the file's mapping

	description, restrictType, restriction string
}

// fits reports whether p is r's sealed part as r is now.
func (p *sealedPart) fits(r *KeyRecord) bool {
	return p != nil && p.serial == r.Serial && p.hash.Type == r.Type && p.description == r.Description &&
		p.restrictType == r.RestrictType && p.restriction == r.Restriction
}

// recordBinding is what a record's sealed part is bound to.
func recordBinding(serial uint32, h DescHash) []byte {
	b := make([]byte, 0, len(recordBindingLabel)+4+descHashLen+len(h.Type))
	b = append(b, recordBindingLabel...)
	b = binary.BigEndian.AppendUint32(b, serial)
	b = append(b, h.sum[:]...)
	return append(b, h.Type...)
}

// sealRecord encodes r in the stored format. Its sealed part is r's own
// (r.sealed) if that still fits r; else the description and restriction
// are sealed anew and hashed, unless h (the hash of r's type and
// description) is given. It returns the sealed part used, for r to keep.
func (s *Sealer) sealRecord(r *KeyRecord, h *DescHash) ([]byte, *sealedPart, error) {
	if err := r.validate(); err != nil {
		return nil, nil, err
	}
	part := r.sealed
	if !part.fits(r) {
		part = &sealedPart{serial: r.Serial, description: r.Description, restrictType: r.RestrictType, restriction: r.Restriction}
		if h != nil && h.Type == r.Type {
			part.hash = *h
		} else {
			part.hash = s.index.desc(r.Type, r.Description)
		}
		plain := appendRecordSecrets(make([]byte, 0, 3+len(r.Description)+len(r.RestrictType)+len(r.Restriction)), r)
		part.bytes = s.Seal(nil, plain, recordBinding(r.Serial, part.hash))
	}
	b := make([]byte, 0, keyRecordFixedSize+len(r.Type)+len(part.bytes))
	b = append(b, keyRecordVersion)
	b = appendRecordCounts(b, r)
	b = append(b, byte(len(r.Type)))
	b = append(b, r.Type...)
	b = append(b, part.hash.sum[:]...)
	b = append(b, part.bytes...)
	return b, part, nil
}

// parseRecord decodes a stored record's clear part: everything but the
// description and the restriction, the hash, and the sealed part (a slice
// of b). Anything malformed is ErrCorrupt.
func parseRecord(b []byte) (*KeyRecord, DescHash, []byte, error) {
	if len(b) < minKeyRecordSize || len(b) > maxKeyRecordSize {
		return nil, DescHash{}, nil, corrupt("key record is %d bytes, want %d..%d", len(b), minKeyRecordSize, maxKeyRecordSize)
	}
	if b[0] != keyRecordVersion {
		return nil, DescHash{}, nil, corrupt("key record version %d, want %d", b[0], keyRecordVersion)
	}
	rec, off, err := readRecordCounts(b)
	if err != nil {
		return nil, DescHash{}, nil, err
	}
	typeLen := int(b[off])
	off++
	if typeLen == 0 || typeLen > MaxTypeLen || len(b) < off+typeLen+descHashLen+SealOverhead+2 {
		return nil, DescHash{}, nil, corrupt("key record of %d bytes has a type of %d", len(b), typeLen)
	}
	rec.Type = string(b[off : off+typeLen])
	off += typeLen
	h := DescHash{Type: rec.Type}
	copy(h.sum[:], b[off:])
	off += descHashLen
	if err := rec.validate(); err != nil {
		return nil, DescHash{}, nil, err
	}
	return rec, h, b[off:], nil
}

// recordSerial is the serial a stored record says it is of, read without
// decoding the rest.
func recordSerial(b []byte) (uint32, bool) {
	if len(b) < 5 || b[0] != keyRecordVersion {
		return 0, false
	}
	return binary.BigEndian.Uint32(b[1:]), true
}

// openRecord decodes a stored record, opening its sealed part. known, if
// not nil, is what an earlier open of the same key gave: if the sealed
// part, its hash and its type are byte for byte the same, it opens the
// same way, and is not decrypted again. A record that is malformed, or
// whose sealed part does not open, is ErrCorrupt. The record keeps the
// sealed part it was opened with (KeyRecord.sealed).
func (s *Sealer) openRecord(b []byte, known *sealedPart) (*KeyRecord, error) {
	rec, h, sealed, err := parseRecord(b)
	if err != nil {
		return nil, err
	}
	if known != nil && known.serial == rec.Serial && known.hash == h && string(known.bytes) == string(sealed) {
		rec.Description, rec.RestrictType, rec.Restriction = known.description, known.restrictType, known.restriction
		rec.sealed = known
		return rec, nil
	}
	plain, err := s.Open(nil, sealed, recordBinding(rec.Serial, h))
	if err != nil {
		return nil, fmt.Errorf("key %d: description: %w", rec.Serial, err)
	}
	if err := readRecordSecrets(rec, plain); err != nil {
		return nil, err
	}
	rec.sealed = &sealedPart{
		serial: rec.Serial, hash: h, bytes: bytes.Clone(sealed),
		description: rec.Description, restrictType: rec.RestrictType, restriction: rec.Restriction,
	}
	return rec, nil
}

// appendRecordSecrets appends what a record's sealed part holds: its
// description and its restriction.
func appendRecordSecrets(b []byte, r *KeyRecord) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(r.Description)))
	b = append(b, r.Description...)
	return append(b, restrictionBytes(r)...)
}

// readRecordSecrets decodes a sealed part's plaintext into rec: the
// description, then the restriction.
func readRecordSecrets(rec *KeyRecord, plain []byte) error {
	if len(plain) < 2 {
		return corrupt("key %d: sealed description of %d bytes", rec.Serial, len(plain))
	}
	n := int(binary.BigEndian.Uint16(plain))
	if n > len(plain)-2 {
		return corrupt("key %d: description of %d bytes in %d", rec.Serial, n, len(plain)-2)
	}
	rec.Description = string(plain[2 : 2+n])
	if err := readRestriction(rec, plain[2+n:]); err != nil {
		return err
	}
	return rec.validate()
}

// appendRecordCounts appends the fixed-width fields both record formats
// share.
func appendRecordCounts(b []byte, r *KeyRecord) []byte {
	for _, v := range [...]uint32{r.Serial, r.UID, r.GID, r.Perm, r.Flags, r.DataLen, r.QuotaBytes, r.Links, r.Pins} {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	b = binary.BigEndian.AppendUint64(b, uint64(r.Expiry))
	b = binary.BigEndian.AppendUint64(b, uint64(r.CTime))
	b = binary.BigEndian.AppendUint64(b, r.NextSeq)
	return binary.BigEndian.AppendUint64(b, uint64(r.Reject))
}

// readRecordCounts reads what appendRecordCounts wrote after the version
// byte of b, which is long enough, and says where it ends.
func readRecordCounts(b []byte) (*KeyRecord, int, error) {
	var u [9]uint32
	for i := range u {
		u[i] = binary.BigEndian.Uint32(b[1+4*i:])
	}
	off := 1 + 4*len(u)
	reject := binary.BigEndian.Uint64(b[off+24:])
	if reject > 0xffffffff {
		return nil, 0, corrupt("key record reject errno %d", reject)
	}
	return &KeyRecord{
		Serial: u[0], UID: u[1], GID: u[2], Perm: u[3], Flags: u[4], DataLen: u[5], QuotaBytes: u[6], Links: u[7], Pins: u[8],
		Expiry:  int64(binary.BigEndian.Uint64(b[off:])),
		CTime:   int64(binary.BigEndian.Uint64(b[off+8:])),
		NextSeq: binary.BigEndian.Uint64(b[off+16:]),
		Reject:  uint32(reject),
	}, off + 32, nil
}

// restrictionBytes is how both formats keep a restriction: its type, NUL,
// the rule; nothing for none.
func restrictionBytes(r *KeyRecord) string {
	if r.RestrictType == "" && r.Restriction == "" {
		return ""
	}
	return r.RestrictType + "\x00" + r.Restriction
}

// readRestriction reads what restrictionBytes wrote.
func readRestriction(rec *KeyRecord, restrict []byte) error {
	if len(restrict) == 0 {
		return nil
	}
	i := bytes.IndexByte(restrict, 0)
	if i < 0 {
		return corrupt("key record restriction has no separator")
	}
	rec.RestrictType, rec.Restriction = string(restrict[:i]), string(restrict[i+1:])
	if rec.RestrictType == "" && rec.Restriction == "" {
		// restrictionBytes writes nothing for this.
		return corrupt("key record restriction is a bare separator")
	}
	return nil
}

// validate checks what every stored record must satisfy.
func (r *KeyRecord) validate() error {
	switch {
	case r.Serial < MinSerial || r.Serial > MaxSerial:
		return corrupt("key serial %d outside %d..%d", r.Serial, MinSerial, MaxSerial)
	case len(r.Type) == 0 || len(r.Type) > MaxTypeLen || strings.IndexByte(r.Type, 0) >= 0 || !utf8.ValidString(r.Type):
		return corrupt("key %d: type %q", r.Serial, r.Type)
	case len(r.Description) > MaxDescriptionLen:
		return corrupt("key %d: description of %d bytes", r.Serial, len(r.Description))
	case len(r.RestrictType) > MaxTypeLen || strings.IndexByte(r.RestrictType, 0) >= 0 || len(r.Restriction) > MaxRestrictionLen:
		return corrupt("key %d: restriction of %d+%d bytes", r.Serial, len(r.RestrictType), len(r.Restriction))
	case r.Flags&^knownFlags != 0:
		return corrupt("key %d: unknown flags %#x", r.Serial, r.Flags&^knownFlags)
	case r.Perm&^0x3f3f3f3f != 0:
		return corrupt("key %d: permission mask %#08x", r.Serial, r.Perm)
	}
	return nil
}

// Serial range: the kernel's, random 31-bit values of at least 3.
const (
	MinSerial = 3
	MaxSerial = 1<<31 - 1
)

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}
