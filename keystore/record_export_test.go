//go:build linux

package keystore

// The record codec, for the black-box tests and fuzz targets.

// SealRecord encodes r as the store keeps it.
func (s *Sealer) SealRecord(r *KeyRecord) ([]byte, error) {
	b, _, err := s.sealRecord(r, nil)
	return b, err
}

// OpenRecord decodes a stored record, decrypting it.
func (s *Sealer) OpenRecord(b []byte) (*KeyRecord, error) { return s.openRecord(b, nil) }

// AppendRecordSecrets and ReadRecordSecrets are the codec of a record's
// sealed part's plaintext.
func AppendRecordSecrets(b []byte, r *KeyRecord) []byte      { return appendRecordSecrets(b, r) }
func ReadRecordSecrets(r *KeyRecord, plaintext []byte) error { return readRecordSecrets(r, plaintext) }

// MarshalRecordV1 and UnmarshalRecordV1 are the codec of the records of
// schemas 1 to 5.
func MarshalRecordV1(r *KeyRecord) ([]byte, error)   { return marshalRecordV1(r) }
func UnmarshalRecordV1(b []byte) (*KeyRecord, error) { return unmarshalRecordV1(b) }

// SameRecord reports whether a and b hold the same values, whatever
// sealed part each was read or stored with.
func SameRecord(a, b *KeyRecord) bool {
	x, y := *a, *b
	x.sealed, y.sealed = nil, nil
	return x == y
}

// DescHashSum is the hash a DescHash carries.
func DescHashSum(h DescHash) [descHashLen]byte { return h.sum }

// HashDescription and HashName are the sums of the keyed hashes the index
// and the names bucket are keyed by.
func (s *Sealer) HashDescription(typ, desc string) [descHashLen]byte {
	return s.index.desc(typ, desc).sum
}
func (s *Sealer) HashName(kind NameKind, name string) [descHashLen]byte {
	return s.index.name(kind, name)
}
