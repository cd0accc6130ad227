package ccache

// Principals and credentials on their own, outside a file: the version 4
// encodings that MIT also uses inside KEYRING keys and KCM messages, where
// they come one after another or next to other fields, so that a reader
// needs to know where each one ends.

// DecodePrincipal decodes the version 4 principal at the start of b and
// returns it with the bytes after it. Errors are *FormatError values, as
// Parse's, with offsets into b; the Principal shares no memory with b.
func DecodePrincipal(b []byte) (Principal, []byte, error) {
	d := decoder{b: b, v: Version4, ord: Version4.order(), cred: -1, part: "principal"}
	p, err := d.principal()
	if err != nil {
		return Principal{}, nil, err
	}
	return p, b[d.off:], nil
}

// DecodeCredential decodes the version 4 credential record at the start
// of b and returns it with the bytes after it. Errors are *FormatError
// values; the Credential shares no memory with b.
func DecodeCredential(b []byte) (Credential, []byte, error) {
	d := decoder{b: b, v: Version4, ord: Version4.order(), cred: -1}
	c, err := d.credential()
	if err != nil {
		return Credential{}, nil, err
	}
	return c, b[d.off:], nil
}

// AppendPrincipal appends p in the version 4 encoding. It fails with
// ErrNotEncodable only for lengths that do not fit 32 bits.
func AppendPrincipal(b []byte, p Principal) ([]byte, error) {
	e := encoder{b: b, v: Version4, ord: Version4.order()}
	e.principal(p, "principal")
	if e.err != nil {
		return nil, e.err
	}
	return e.b, nil
}

// AppendCredential appends c as a version 4 credential record, the bytes
// a FILE cache of version 4 holds for it.
func AppendCredential(b []byte, c *Credential) ([]byte, error) {
	e := encoder{b: b, v: Version4, ord: Version4.order()}
	e.credential(c, 0)
	if e.err != nil {
		return nil, e.err
	}
	return e.b, nil
}
