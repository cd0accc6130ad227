//go:build linux

package secrets

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"time"
	"unicode/utf8"
)

// A secret's key holds a record: what describes the item, then the
// secret. The whole payload is sealed at rest, so labels and attributes
// are as private as the secret.
//
//	magic      4 bytes  "\x00kgs"
//	version    1 byte   1
//	created    8 bytes  Unix nanoseconds, big-endian; 0: unknown
//	modified   8 bytes  the same
//	expires    8 bytes  the same; 0: never
//	label      uvarint length, UTF-8 bytes
//	type       uvarint length, UTF-8 bytes (content type)
//	attributes uvarint count, then each: uvarint length, name, uvarint
//	           length, value; names in strictly increasing byte order
//	secret     the rest
//
// A payload that does not start with the magic is a bare secret, stored by
// something other than this package (keyctl-go add big_key ...): it reads
// as an item with that secret and nothing else. A payload that starts with
// it must decode, or it is ErrCorrupt.
const (
	recordMagic   = "\x00kgs"
	recordVersion = 1
	recordFixed   = len(recordMagic) + 1 + 3*8 // bytes before the label
)

// MaxItemLen is the most bytes an item's record may take: the store's
// limit on a big_key payload. The secret gets what the label, content
// type and attributes leave.
const MaxItemLen = 1 << 20 // bytes

// appendRecord encodes it (its Service and Account are the key's place,
// not in the record).
func appendRecord(dst []byte, it *Item) []byte {
	dst = append(dst, recordMagic...)
	dst = append(dst, recordVersion)
	dst = binary.BigEndian.AppendUint64(dst, uint64(unixNano(it.Created)))
	dst = binary.BigEndian.AppendUint64(dst, uint64(unixNano(it.Modified)))
	dst = binary.BigEndian.AppendUint64(dst, uint64(unixNano(it.Expires)))
	dst = appendString(dst, it.Label)
	dst = appendString(dst, it.ContentType)
	names := slices.Sorted(maps.Keys(it.Attributes))
	dst = binary.AppendUvarint(dst, uint64(len(names)))
	for _, k := range names {
		dst = appendString(dst, k)
		dst = appendString(dst, it.Attributes[k])
	}
	return append(dst, it.Secret...)
}

// recordLen is how many bytes appendRecord makes of it.
func recordLen(it *Item) int {
	n := recordFixed + stringLen(it.Label) + stringLen(it.ContentType) + uvarintLen(uint64(len(it.Attributes)))
	for k, v := range it.Attributes {
		n += stringLen(k) + stringLen(v)
	}
	return n + len(it.Secret)
}

// decodeRecord decodes a key's payload into it's descriptive fields and
// secret. The secret aliases b.
func decodeRecord(b []byte, it *Item) error {
	if !bytes.HasPrefix(b, []byte(recordMagic)) {
		*it = Item{Secret: b}
		return nil
	}
	if len(b) < recordFixed {
		return fmt.Errorf("%w: %d bytes, shorter than the %d-byte header", ErrCorrupt, len(b), recordFixed)
	}
	if v := b[len(recordMagic)]; v != recordVersion {
		return fmt.Errorf("%w: version %d, this package reads %d", ErrCorrupt, v, recordVersion)
	}
	p := b[len(recordMagic)+1:]
	var r Item
	r.Created = fromUnixNano(int64(binary.BigEndian.Uint64(p)))
	r.Modified = fromUnixNano(int64(binary.BigEndian.Uint64(p[8:])))
	r.Expires = fromUnixNano(int64(binary.BigEndian.Uint64(p[16:])))
	p = p[24:]
	var err error
	if r.Label, p, err = readString(p, "label"); err != nil {
		return err
	}
	if r.ContentType, p, err = readString(p, "content type"); err != nil {
		return err
	}
	n, w := binary.Uvarint(p)
	if w <= 0 || w != uvarintLen(n) || n > uint64(len(p)) { // each pair takes at least 2 bytes
		return fmt.Errorf("%w: bad attribute count", ErrCorrupt)
	}
	p = p[w:]
	if n > 0 {
		r.Attributes = make(map[string]string, n)
	}
	prev := ""
	for i := range n {
		var k, v string
		if k, p, err = readString(p, "attribute name"); err != nil {
			return err
		}
		if i > 0 && k <= prev {
			return fmt.Errorf("%w: attribute %q out of order after %q", ErrCorrupt, k, prev)
		}
		if v, p, err = readString(p, "attribute value"); err != nil {
			return err
		}
		r.Attributes[k], prev = v, k
	}
	r.Secret = p
	*it = r
	return nil
}

func readString(p []byte, what string) (string, []byte, error) {
	n, w := binary.Uvarint(p)
	// A length in more bytes than it needs would decode, and encode back
	// otherwise: one record, one encoding.
	if w <= 0 || w != uvarintLen(n) || n > uint64(len(p)-w) {
		return "", nil, fmt.Errorf("%w: %s runs past the end", ErrCorrupt, what)
	}
	s := p[w : w+int(n)]
	if !utf8.Valid(s) {
		return "", nil, fmt.Errorf("%w: %s is not UTF-8", ErrCorrupt, what)
	}
	return string(s), p[w+int(n):], nil
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func stringLen(s string) int { return uvarintLen(uint64(len(s))) + len(s) }

func uvarintLen(x uint64) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutUvarint(b[:], x)
}

// unixNano is t in Unix nanoseconds, 0 for the zero time.
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}
