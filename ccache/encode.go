package ccache

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Marshal encodes f in its version. It fails with ErrNotEncodable if f has
// header fields but is not version 4, or if a length or count does not fit
// its field. Marshal of a File returned by Parse gives the parsed bytes.
func (f *File) Marshal() ([]byte, error) {
	return f.AppendBinary(nil)
}

// MarshalBinary implements encoding.BinaryMarshaler.
func (f *File) MarshalBinary() ([]byte, error) { return f.Marshal() }

// UnmarshalBinary implements encoding.BinaryUnmarshaler with Parse.
func (f *File) UnmarshalBinary(b []byte) error {
	g, err := Parse(b)
	if err != nil {
		return err
	}
	*f = *g
	return nil
}

// AppendBinary implements encoding.BinaryAppender.
func (f *File) AppendBinary(b []byte) ([]byte, error) {
	if !f.Version.valid() {
		return nil, fmt.Errorf("ccache: version %d: %w", f.Version, ErrNotEncodable)
	}
	e := encoder{b: b, v: f.Version, ord: f.Version.order()}
	e.b = binary.BigEndian.AppendUint16(e.b, versionBase+uint16(f.Version))
	if f.Version == Version4 {
		e.header(f.Header)
	} else if len(f.Header) > 0 {
		return nil, fmt.Errorf("ccache: header fields in version %d: %w", f.Version, ErrNotEncodable)
	}
	e.principal(f.DefaultPrincipal, "default principal")
	for i := range f.Credentials {
		e.credential(&f.Credentials[i], i+1)
	}
	if e.err != nil {
		return nil, e.err
	}
	return e.b, nil
}

// encoder appends to b; the first error sticks and later writes are
// harmless.
type encoder struct {
	b    []byte
	v    Version
	ord  byteOrder
	cred int // 1-based credential number, 0 outside credentials
	err  error
}

// failf records the first error, naming the credential being written.
func (e *encoder) failf(format string, args ...any) {
	if e.err != nil {
		return
	}
	where := ""
	if e.cred > 0 {
		where = fmt.Sprintf("credential %d: ", e.cred)
	}
	e.err = fmt.Errorf("ccache: "+where+format+": %w", append(args, ErrNotEncodable)...)
}

func (e *encoder) u16(v uint16) { e.b = e.ord.AppendUint16(e.b, v) }
func (e *encoder) u32(v uint32) { e.b = e.ord.AppendUint32(e.b, v) }

// data writes a u32 length and s; what names the field if it is too long.
func (e *encoder) data(s []byte, what string) {
	if uint64(len(s)) > math.MaxUint32 {
		e.failf("%s: %d bytes", what, len(s))
		return
	}
	e.u32(uint32(len(s)))
	e.b = append(e.b, s...)
}

func (e *encoder) str(s string, what string) {
	if uint64(len(s)) > math.MaxUint32 {
		e.failf("%s: %d bytes", what, len(s))
		return
	}
	e.u32(uint32(len(s)))
	e.b = append(e.b, s...)
}

// header writes the version 4 header, which is always big-endian.
func (e *encoder) header(h []HeaderField) {
	total := 0
	for _, f := range h {
		if len(f.Value) > math.MaxUint16 {
			e.failf("header tag %d: %d bytes", f.Tag, len(f.Value))
			return
		}
		total += 4 + len(f.Value)
	}
	if total > math.MaxUint16 {
		e.failf("header: %d bytes", total)
		return
	}
	e.u16(uint16(total))
	for _, f := range h {
		e.u16(f.Tag)
		e.u16(uint16(len(f.Value)))
		e.b = append(e.b, f.Value...)
	}
}

func (e *encoder) principal(p Principal, what string) {
	n := uint64(len(p.Components))
	if e.v == Version1 {
		n++ // the realm counts as a component
	} else {
		e.u32(uint32(p.NameType))
	}
	if n > math.MaxUint32 {
		e.failf("%s: %d components", what, len(p.Components))
		return
	}
	e.u32(uint32(n))
	e.str(p.Realm, what)
	for _, c := range p.Components {
		e.str(c, what)
	}
}

func (e *encoder) credential(c *Credential, i int) {
	e.cred = i
	e.principal(c.Client, "client")
	e.principal(c.Server, "server")
	e.u16(uint16(c.Key.EncType))
	if e.v == Version3 {
		second := c.Key.EncType
		if c.Key.v3SecondSet {
			second = c.Key.v3Second
		}
		e.u16(uint16(second))
	}
	e.data(c.Key.Key, "key")
	e.u32(uint32(c.AuthTime))
	e.u32(uint32(c.StartTime))
	e.u32(uint32(c.EndTime))
	e.u32(uint32(c.RenewTill))
	e.b = append(e.b, c.IsSKey)
	e.u32(uint32(c.Flags))
	if uint64(len(c.Addresses)) > math.MaxUint32 || uint64(len(c.AuthData)) > math.MaxUint32 {
		e.failf("too many addresses or authdata elements")
		return
	}
	e.u32(uint32(len(c.Addresses)))
	for _, a := range c.Addresses {
		e.u16(a.Type)
		e.data(a.Data, "address")
	}
	e.u32(uint32(len(c.AuthData)))
	for _, a := range c.AuthData {
		e.u16(uint16(a.Type))
		e.data(a.Data, "authdata")
	}
	e.data(c.Ticket, "ticket")
	e.data(c.SecondTicket, "second ticket")
}
