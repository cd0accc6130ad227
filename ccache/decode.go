package ccache

import (
	"encoding/binary"
	"strconv"
)

// Parse decodes a whole FILE cache. It never panics and allocates only for
// lengths and counts it has checked against the bytes that remain; every
// error is a *FormatError. The returned File shares no memory with b.
func Parse(b []byte) (*File, error) {
	d := decoder{b: b, cred: -1}
	if len(b) < 2 {
		return nil, d.fail("file format version", ErrTruncated)
	}
	if b[0] != versionBase>>8 || !Version(b[1]).valid() {
		return nil, d.fail("file format version 0x"+strconv.FormatUint(uint64(binary.BigEndian.Uint16(b)), 16), ErrBadVersion)
	}
	f := &File{Version: Version(b[1])}
	d.v = f.Version
	d.ord = f.Version.order()
	d.off = 2

	if f.Version == Version4 {
		h, err := d.header()
		if err != nil {
			return nil, err
		}
		f.Header = h
	}
	d.part = "default principal"
	p, err := d.principal()
	if err != nil {
		return nil, err
	}
	f.DefaultPrincipal = p
	for d.off < len(d.b) {
		d.cred = len(f.Credentials) + 1
		c, err := d.credential()
		if err != nil {
			return nil, err
		}
		f.Credentials = append(f.Credentials, c)
	}
	return f, nil
}

// decoder walks the input, remembering where it is for error messages.
type decoder struct {
	b    []byte
	off  int
	v    Version
	ord  byteOrder
	cred int    // 1-based credential number, or -1 outside credentials
	part string // e.g. "server principal"
}

func (d *decoder) remaining() int { return len(d.b) - d.off }

// fail returns a FormatError for field at the current offset.
func (d *decoder) fail(field string, err error) error {
	name := field
	if d.part != "" {
		name = d.part + ": " + name
	}
	if d.cred > 0 {
		name = "credential " + strconv.Itoa(d.cred) + ": " + name
	}
	return &FormatError{Field: name, Offset: d.off, Err: err}
}

func (d *decoder) take(n int, field string) ([]byte, error) {
	if n > d.remaining() {
		return nil, d.fail(field, ErrTruncated)
	}
	s := d.b[d.off : d.off+n]
	d.off += n
	return s, nil
}

func (d *decoder) u8(field string) (uint8, error) {
	s, err := d.take(1, field)
	if err != nil {
		return 0, err
	}
	return s[0], nil
}

func (d *decoder) u16(field string) (uint16, error) {
	s, err := d.take(2, field)
	if err != nil {
		return 0, err
	}
	return d.ord.Uint16(s), nil
}

func (d *decoder) u32(field string) (uint32, error) {
	s, err := d.take(4, field)
	if err != nil {
		return 0, err
	}
	return d.ord.Uint32(s), nil
}

// data reads a u32 length and that many bytes, copied.
func (d *decoder) data(field string) ([]byte, error) {
	n, err := d.u32(field + " length")
	if err != nil {
		return nil, err
	}
	if uint64(n) > uint64(d.remaining()) {
		d.off -= 4
		return nil, d.fail(field+" length "+strconv.FormatUint(uint64(n), 10), ErrTooLarge)
	}
	s, _ := d.take(int(n), field)
	return append([]byte(nil), s...), nil
}

// count reads a u32 element count and checks it against limit and against
// the bytes left, given that each element takes at least minSize bytes.
func (d *decoder) count(field string, minSize, limit int) (int, error) {
	n, err := d.u32(field)
	if err != nil {
		return 0, err
	}
	if uint64(n) > uint64(limit) || uint64(n)*uint64(minSize) > uint64(d.remaining()) {
		d.off -= 4
		return 0, d.fail(field+" "+strconv.FormatUint(uint64(n), 10), ErrTooLarge)
	}
	return int(n), nil
}

// header reads the version 4 header: a u16 length and tagged fields that
// fill exactly that length.
func (d *decoder) header() ([]HeaderField, error) {
	d.part = "header"
	hlen, err := d.u16("length")
	if err != nil {
		return nil, err
	}
	if int(hlen) > d.remaining() {
		d.off -= 2
		return nil, d.fail("length "+strconv.Itoa(int(hlen)), ErrTooLarge)
	}
	end := d.off + int(hlen)
	var fields []HeaderField
	for d.off < end {
		if end-d.off < 4 {
			return nil, d.fail("field tag and length", ErrMalformed)
		}
		tag, _ := d.u16("field tag")
		n, _ := d.u16("field length")
		if int(n) > end-d.off {
			d.off -= 2
			return nil, d.fail("field length "+strconv.Itoa(int(n)), ErrTooLarge)
		}
		if tag == TagTimeOffset && n != 8 {
			d.off -= 2
			return nil, d.fail("time offset length "+strconv.Itoa(int(n)), ErrMalformed)
		}
		v, _ := d.take(int(n), "field value")
		fields = append(fields, HeaderField{Tag: tag, Value: append([]byte(nil), v...)})
	}
	return fields, nil
}

func (d *decoder) principal() (Principal, error) {
	var p Principal
	if d.v != Version1 {
		t, err := d.u32("name type")
		if err != nil {
			return p, err
		}
		p.NameType = NameType(int32(t))
	}
	// Every component and the realm take at least their 4-byte length.
	n, err := d.count("component count", 4, maxComponents)
	if err != nil {
		return p, err
	}
	if d.v == Version1 {
		// Version 1 counts the realm as a component.
		if n == 0 {
			d.off -= 4
			return p, d.fail("component count 0", ErrMalformed)
		}
		n--
	}
	realm, err := d.data("realm")
	if err != nil {
		return p, err
	}
	p.Realm = string(realm)
	if n > 0 {
		p.Components = make([]string, n)
	}
	for i := range p.Components {
		c, err := d.data("component " + strconv.Itoa(i+1))
		if err != nil {
			return p, err
		}
		p.Components[i] = string(c)
	}
	return p, nil
}

func (d *decoder) credential() (Credential, error) {
	var c Credential
	var err error
	d.part = "client principal"
	if c.Client, err = d.principal(); err != nil {
		return c, err
	}
	d.part = "server principal"
	if c.Server, err = d.principal(); err != nil {
		return c, err
	}

	d.part = "keyblock"
	e, err := d.u16("enctype")
	if err != nil {
		return c, err
	}
	c.Key.EncType = EncType(int16(e))
	if d.v == Version3 {
		e2, err := d.u16("second enctype")
		if err != nil {
			return c, err
		}
		if e2 != e {
			c.Key.v3Second, c.Key.v3SecondSet = EncType(int16(e2)), true
		}
	}
	if c.Key.Key, err = d.data("key"); err != nil {
		return c, err
	}

	d.part = "times"
	for _, t := range []struct {
		p    *Timestamp
		name string
	}{{&c.AuthTime, "authtime"}, {&c.StartTime, "starttime"}, {&c.EndTime, "endtime"}, {&c.RenewTill, "renew_till"}} {
		v, err := d.u32(t.name)
		if err != nil {
			return c, err
		}
		*t.p = Timestamp(v)
	}

	d.part = ""
	if c.IsSKey, err = d.u8("is_skey"); err != nil {
		return c, err
	}
	f, err := d.u32("ticket flags")
	if err != nil {
		return c, err
	}
	c.Flags = TicketFlags(f)

	// An address or authdata element takes at least 2 + 4 bytes.
	d.part = "addresses"
	n, err := d.count("count", 6, maxListLen)
	if err != nil {
		return c, err
	}
	if n > 0 {
		c.Addresses = make([]Address, n)
	}
	for i := range c.Addresses {
		t, err := d.u16("address " + strconv.Itoa(i+1) + " type")
		if err != nil {
			return c, err
		}
		c.Addresses[i].Type = t
		if c.Addresses[i].Data, err = d.data("address " + strconv.Itoa(i+1)); err != nil {
			return c, err
		}
	}

	d.part = "authdata"
	if n, err = d.count("count", 6, maxListLen); err != nil {
		return c, err
	}
	if n > 0 {
		c.AuthData = make([]AuthData, n)
	}
	for i := range c.AuthData {
		t, err := d.u16("element " + strconv.Itoa(i+1) + " type")
		if err != nil {
			return c, err
		}
		c.AuthData[i].Type = int16(t)
		if c.AuthData[i].Data, err = d.data("element " + strconv.Itoa(i+1)); err != nil {
			return c, err
		}
	}

	d.part = ""
	if c.Ticket, err = d.data("ticket"); err != nil {
		return c, err
	}
	if c.SecondTicket, err = d.data("second ticket"); err != nil {
		return c, err
	}
	return c, nil
}
