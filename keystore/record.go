package keystore

import (
	"encoding/binary"
	"fmt"
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

	keyRecordVersion   = 1
	keyRecordFixedSize = 1 + 4*9 + 8*4 + 1 + 2 + 2 // version, nine u32s, four u64s, three lengths
	maxKeyRecordSize   = keyRecordFixedSize + MaxTypeLen + MaxDescriptionLen + MaxRestrictionLen
	expiryPermanent    = 0
)

// KeyRecord is everything the store keeps about a key except its payload.
// It is stored in clear: descriptions, owners, permissions and link counts
// are not secret in the kernel either (/proc/keys shows them).
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
}

// IsKeyring reports whether the key is a keyring.
func (r *KeyRecord) IsKeyring() bool { return r.Type == "keyring" }

// Held reports whether anything stored keeps the key alive.
func (r *KeyRecord) Held() bool { return r.Links > 0 || r.Pins > 0 }

// MarshalBinary encodes r in the record format, version 1:
//
//	u8  version (1)
//	u32 serial, uid, gid, perm, flags, datalen, quota bytes, links, pins   (big-endian)
//	u64 expiry, ctime, next seq; u32 reject is folded into the fourth u64's low half
//	u8  type length, u16 description length, u16 restriction length
//	type, description, restriction type NUL restriction
//
// Big-endian throughout, like the keys of the buckets.
func (r *KeyRecord) MarshalBinary() ([]byte, error) {
	if err := r.validate(); err != nil {
		return nil, err
	}
	restrict := r.RestrictType + "\x00" + r.Restriction
	if r.RestrictType == "" && r.Restriction == "" {
		restrict = ""
	}
	b := make([]byte, 0, keyRecordFixedSize+len(r.Type)+len(r.Description)+len(restrict))
	b = append(b, keyRecordVersion)
	for _, v := range [...]uint32{r.Serial, r.UID, r.GID, r.Perm, r.Flags, r.DataLen, r.QuotaBytes, r.Links, r.Pins} {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	b = binary.BigEndian.AppendUint64(b, uint64(r.Expiry))
	b = binary.BigEndian.AppendUint64(b, uint64(r.CTime))
	b = binary.BigEndian.AppendUint64(b, r.NextSeq)
	b = binary.BigEndian.AppendUint64(b, uint64(r.Reject))
	b = append(b, byte(len(r.Type)))
	b = binary.BigEndian.AppendUint16(b, uint16(len(r.Description)))
	b = binary.BigEndian.AppendUint16(b, uint16(len(restrict)))
	b = append(b, r.Type...)
	b = append(b, r.Description...)
	b = append(b, restrict...)
	return b, nil
}

// UnmarshalBinary decodes a record made by MarshalBinary. Anything
// malformed (a short or long buffer, an unknown version or flag, lengths
// beyond the limits, a type name with a NUL) is ErrCorrupt.
func (r *KeyRecord) UnmarshalBinary(b []byte) error {
	if len(b) < keyRecordFixedSize || len(b) > maxKeyRecordSize {
		return corrupt("key record is %d bytes, want %d..%d", len(b), keyRecordFixedSize, maxKeyRecordSize)
	}
	if b[0] != keyRecordVersion {
		return corrupt("key record version %d, want %d", b[0], keyRecordVersion)
	}
	var u [9]uint32
	for i := range u {
		u[i] = binary.BigEndian.Uint32(b[1+4*i:])
	}
	off := 1 + 4*len(u)
	expiry := int64(binary.BigEndian.Uint64(b[off:]))
	ctime := int64(binary.BigEndian.Uint64(b[off+8:]))
	nextSeq := binary.BigEndian.Uint64(b[off+16:])
	reject := binary.BigEndian.Uint64(b[off+24:])
	off += 32
	typeLen := int(b[off])
	descLen := int(binary.BigEndian.Uint16(b[off+1:]))
	restrictLen := int(binary.BigEndian.Uint16(b[off+3:]))
	off += 5
	if off != keyRecordFixedSize || len(b) != off+typeLen+descLen+restrictLen {
		return corrupt("key record lengths %d+%d+%d do not fill its %d bytes", typeLen, descLen, restrictLen, len(b))
	}
	if reject > 0xffffffff {
		return corrupt("key record reject errno %d", reject)
	}
	rec := KeyRecord{
		Serial: u[0], UID: u[1], GID: u[2], Perm: u[3], Flags: u[4], DataLen: u[5], QuotaBytes: u[6], Links: u[7], Pins: u[8],
		Expiry: expiry, CTime: ctime, NextSeq: nextSeq, Reject: uint32(reject),
		Type:        string(b[off : off+typeLen]),
		Description: string(b[off+typeLen : off+typeLen+descLen]),
	}
	if restrictLen > 0 {
		restrict := b[off+typeLen+descLen:]
		i := indexByte(restrict, 0)
		if i < 0 {
			return corrupt("key record restriction has no separator")
		}
		rec.RestrictType, rec.Restriction = string(restrict[:i]), string(restrict[i+1:])
		if rec.RestrictType == "" && rec.Restriction == "" {
			// MarshalBinary writes no restriction bytes for this.
			return corrupt("key record restriction is a bare separator")
		}
	}
	if err := rec.validate(); err != nil {
		return err
	}
	*r = rec
	return nil
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// validate checks what every stored record must satisfy.
func (r *KeyRecord) validate() error {
	switch {
	case r.Serial < MinSerial || r.Serial > MaxSerial:
		return corrupt("key serial %d outside %d..%d", r.Serial, MinSerial, MaxSerial)
	case len(r.Type) == 0 || len(r.Type) > MaxTypeLen || indexByte([]byte(r.Type), 0) >= 0 || !utf8.ValidString(r.Type):
		return corrupt("key %d: type %q", r.Serial, r.Type)
	case len(r.Description) > MaxDescriptionLen:
		return corrupt("key %d: description of %d bytes", r.Serial, len(r.Description))
	case len(r.RestrictType) > MaxTypeLen || indexByte([]byte(r.RestrictType), 0) >= 0 || len(r.Restriction) > MaxRestrictionLen:
		return corrupt("key %d: restriction %q:%q", r.Serial, r.RestrictType, r.Restriction)
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
