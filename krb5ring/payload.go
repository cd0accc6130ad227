//go:build linux

package krb5ring

import (
	"encoding/binary"
	"fmt"

	"github.com/keyctl-go/keyctl-go/ccache"
)

// The payloads of a KEYRING cache's keys. MIT writes principals and
// credentials in the FILE format's version 4 encoding whatever ccache_type
// says, so they are framed here as a version 4 FILE cache of one record and
// handed to package ccache: a credential key's payload is byte for byte the
// record a FILE cache holds.

// primaryVersion is the only version of krb_ccache:primary's payload
// (KRCC_COLLECTION_VERSION).
const primaryVersion = 1

// fileHead is what starts a version 4 FILE cache with an empty header.
var fileHead = []byte{0x05, 0x04, 0x00, 0x00}

// emptyPrincipal is a version 4 principal with no name type, no
// components and an empty realm: the default principal of the frame a
// credential is parsed in.
var emptyPrincipal = make([]byte, 12)

// encodePrimary is krb_ccache:primary's payload: u32 version, u32 length,
// the cache name, big-endian and without a NUL.
func encodePrimary(sub string) []byte {
	b := binary.BigEndian.AppendUint32(nil, primaryVersion)
	b = binary.BigEndian.AppendUint32(b, uint32(len(sub)))
	return append(b, sub...)
}

// decodePrimary reads krb_ccache:primary's payload as MIT's parse_index
// does: bytes after the name are ignored.
func decodePrimary(b []byte) (string, error) {
	if len(b) < 8 {
		return "", fmt.Errorf("%w: primary pointer of %d bytes", ErrFormat, len(b))
	}
	if v := binary.BigEndian.Uint32(b); v != primaryVersion {
		return "", fmt.Errorf("%w: %d", ErrUnknownVersion, v)
	}
	n := binary.BigEndian.Uint32(b[4:])
	if uint64(n) > uint64(len(b)-8) {
		return "", fmt.Errorf("%w: primary pointer names %d bytes, holds %d", ErrFormat, n, len(b)-8)
	}
	return string(b[8 : 8+n]), nil
}

// TimeOffset is the KDC's clock minus the client's, as the version 4 FILE
// header's tag 1 and __krb5_time_offsets__ hold it.
type TimeOffset struct {
	Seconds      int32
	Microseconds int32
}

func encodeOffset(o TimeOffset) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(o.Seconds))
	return binary.BigEndian.AppendUint32(b, uint32(o.Microseconds))
}

// decodeOffset reads the first 8 bytes, as MIT does.
func decodeOffset(b []byte) (TimeOffset, error) {
	if len(b) < 8 {
		return TimeOffset{}, fmt.Errorf("%w: time offsets of %d bytes", ErrFormat, len(b))
	}
	return TimeOffset{int32(binary.BigEndian.Uint32(b)), int32(binary.BigEndian.Uint32(b[4:]))}, nil
}

// encodePrincipal is __krb5_princ__'s payload: one version 4 principal.
func encodePrincipal(p ccache.Principal) ([]byte, error) {
	f := ccache.File{Version: ccache.Version4, DefaultPrincipal: p}
	b, err := f.Marshal()
	if err != nil {
		return nil, fmt.Errorf("krb5ring: principal %s: %w", p, err)
	}
	return b[len(fileHead):], nil
}

func decodePrincipal(b []byte) (ccache.Principal, error) {
	f, err := ccache.Parse(append(append([]byte(nil), fileHead...), b...))
	if err != nil {
		return ccache.Principal{}, fmt.Errorf("%w: principal: %w", ErrFormat, err)
	}
	if len(f.Credentials) != 0 {
		return ccache.Principal{}, fmt.Errorf("%w: bytes after the principal", ErrFormat)
	}
	return f.DefaultPrincipal, nil
}

// encodeCredential is a credential key's payload: one version 4 record.
func encodeCredential(c *ccache.Credential) ([]byte, error) {
	f := ccache.File{Version: ccache.Version4, Credentials: []ccache.Credential{*c}}
	b, err := f.Marshal()
	if err != nil {
		return nil, fmt.Errorf("krb5ring: credential for %s: %w", c.Server, err)
	}
	return b[len(fileHead)+len(emptyPrincipal):], nil
}

func decodeCredential(b []byte) (ccache.Credential, error) {
	frame := make([]byte, 0, len(fileHead)+len(emptyPrincipal)+len(b))
	frame = append(append(append(frame, fileHead...), emptyPrincipal...), b...)
	f, err := ccache.Parse(frame)
	if err != nil {
		return ccache.Credential{}, fmt.Errorf("%w: credential: %w", ErrFormat, err)
	}
	if len(f.Credentials) != 1 {
		return ccache.Credential{}, fmt.Errorf("%w: %d credential records in one key", ErrFormat, len(f.Credentials))
	}
	return f.Credentials[0], nil
}

// recordEndTime reads a version 4 credential record's endtime, skipping
// its two principals, its keyblock and two times without decoding them.
func recordEndTime(b []byte) (ccache.Timestamp, error) {
	off := 0
	u32 := func() (uint32, bool) {
		if len(b)-off < 4 {
			return 0, false
		}
		v := binary.BigEndian.Uint32(b[off:])
		off += 4
		return v, true
	}
	skip := func(n uint32) bool {
		if uint64(n) > uint64(len(b)-off) {
			return false
		}
		off += int(n)
		return true
	}
	data := func() bool {
		n, ok := u32()
		return ok && skip(n)
	}
	principal := func() bool {
		if _, ok := u32(); !ok { // name type
			return false
		}
		n, ok := u32()
		if !ok || !data() { // the count, then the realm
			return false
		}
		for range n {
			if !data() {
				return false
			}
		}
		return true
	}
	ok := principal() && principal() && skip(2) && data() && skip(8)
	end, ok2 := u32()
	if !ok || !ok2 {
		return 0, fmt.Errorf("%w: credential record cut short", ErrFormat)
	}
	return ccache.Timestamp(end), nil
}
