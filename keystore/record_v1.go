//go:build linux

package keystore

import (
	"encoding/binary"
)

// The key record of schema versions 1 to 5, which kept descriptions and
// restrictions in clear. Upgrades read it, and the steps before version 6
// write it (they run in place, before the rewrite that seals every
// description); nothing else does.

const (
	keyRecordV1        = 1
	keyRecordV1Fixed   = 1 + keyRecordCounts + 1 + 2 + 2 // version, counts, three lengths
	maxKeyRecordV1Size = keyRecordV1Fixed + MaxTypeLen + MaxDescriptionLen + MaxRestrictionLen
)

// marshalRecordV1 encodes r in the record format of schemas 1 to 5:
//
//	u8  version (1)
//	u32 serial, uid, gid, perm, flags, datalen, quota bytes, links, pins   (big-endian)
//	u64 expiry, ctime, next seq; u32 reject is folded into the fourth u64's low half
//	u8  type length, u16 description length, u16 restriction length
//	type, description, restriction type NUL restriction
func marshalRecordV1(r *KeyRecord) ([]byte, error) {
	if err := r.validate(); err != nil {
		return nil, err
	}
	restrict := restrictionBytes(r)
	b := make([]byte, 0, keyRecordV1Fixed+len(r.Type)+len(r.Description)+len(restrict))
	b = append(b, keyRecordV1)
	b = appendRecordCounts(b, r)
	b = append(b, byte(len(r.Type)))
	b = binary.BigEndian.AppendUint16(b, uint16(len(r.Description)))
	b = binary.BigEndian.AppendUint16(b, uint16(len(restrict)))
	b = append(b, r.Type...)
	b = append(b, r.Description...)
	b = append(b, restrict...)
	return b, nil
}

// unmarshalRecordV1 decodes a record made by marshalRecordV1. Anything
// malformed (a short or long buffer, an unknown version or flag, lengths
// beyond the limits, a type name with a NUL) is ErrCorrupt.
func unmarshalRecordV1(b []byte) (*KeyRecord, error) {
	if len(b) < keyRecordV1Fixed || len(b) > maxKeyRecordV1Size {
		return nil, corrupt("key record is %d bytes, want %d..%d", len(b), keyRecordV1Fixed, maxKeyRecordV1Size)
	}
	if b[0] != keyRecordV1 {
		return nil, corrupt("key record version %d, want %d", b[0], keyRecordV1)
	}
	rec, off, err := readRecordCounts(b)
	if err != nil {
		return nil, err
	}
	typeLen := int(b[off])
	descLen := int(binary.BigEndian.Uint16(b[off+1:]))
	restrictLen := int(binary.BigEndian.Uint16(b[off+3:]))
	off += 5
	if off != keyRecordV1Fixed || len(b) != off+typeLen+descLen+restrictLen {
		return nil, corrupt("key record lengths %d+%d+%d do not fill its %d bytes", typeLen, descLen, restrictLen, len(b))
	}
	rec.Type = string(b[off : off+typeLen])
	rec.Description = string(b[off+typeLen : off+typeLen+descLen])
	if err := readRestriction(rec, b[off+typeLen+descLen:]); err != nil {
		return nil, err
	}
	if err := rec.validate(); err != nil {
		return nil, err
	}
	return rec, nil
}
