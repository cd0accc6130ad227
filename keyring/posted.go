//go:build linux

package keyring

import (
	"encoding/binary"
	"errors"

	"github.com/keyctl-go/keyctl-go/perms"
	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// posted is what one commit posts: the notifications its operation
// gathered, the keys it destroyed, with their names for the history, and
// the poster's credentials. On a store shared by hosts (etcd) the writer
// encodes it into its commit (keystore.Tx.PutEvents, which seals it), and
// every host decodes it from the change feed and delivers it, so that
// each host's watchers get the records the writer's own got.
type posted struct {
	cred           perms.Cred
	events         []event
	destroyed      []Serial
	destroyedNames []keyName
}

// errPosted is what decodePosted answers for bytes that are not an
// encoded posted.
var errPosted = errors.New("keyring: notifications of a commit: malformed")

// Encoding: uvarints and length-prefixed strings, in this order:
//
//	uid gid ngroups group...
//	nevents (key subtype aux keyName auxName)...
//	ndestroyed (serial keyName)...
//
// where a keyName is type, description, uid, gid, mask.

func (p *posted) appendBinary(b []byte) []byte {
	b = binary.AppendUvarint(b, uint64(p.cred.UID))
	b = binary.AppendUvarint(b, uint64(p.cred.GID))
	b = binary.AppendUvarint(b, uint64(len(p.cred.Groups)))
	for _, g := range p.cred.Groups {
		b = binary.AppendUvarint(b, uint64(g))
	}
	b = binary.AppendUvarint(b, uint64(len(p.events)))
	for _, e := range p.events {
		b = binary.AppendUvarint(b, uint64(uint32(e.key)))
		b = binary.AppendUvarint(b, uint64(e.sub))
		b = binary.AppendUvarint(b, uint64(e.aux))
		b = e.keyName.appendBinary(b)
		b = e.auxName.appendBinary(b)
	}
	b = binary.AppendUvarint(b, uint64(len(p.destroyed)))
	for i, id := range p.destroyed {
		b = binary.AppendUvarint(b, uint64(uint32(id)))
		var n keyName
		if i < len(p.destroyedNames) {
			n = p.destroyedNames[i]
		}
		b = n.appendBinary(b)
	}
	return b
}

func (n keyName) appendBinary(b []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(n.typ)))
	b = append(b, n.typ...)
	b = binary.AppendUvarint(b, uint64(len(n.desc)))
	b = append(b, n.desc...)
	b = binary.AppendUvarint(b, uint64(n.subject.UID))
	b = binary.AppendUvarint(b, uint64(n.subject.GID))
	return binary.AppendUvarint(b, uint64(n.subject.Mask))
}

// postedDecoder reads an encoded posted; the first error sticks.
type postedDecoder struct {
	b   []byte
	err error
}

func (d *postedDecoder) uint(limit uint64) uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 || v > limit {
		d.err = errPosted
		d.b = nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a length, which cannot exceed what is left to read.
func (d *postedDecoder) count() int { return int(d.uint(uint64(len(d.b)))) }

func (d *postedDecoder) str() string {
	n := d.count()
	if d.err != nil || n > len(d.b) {
		d.err = errPosted
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *postedDecoder) name() keyName {
	n := keyName{typ: d.str(), desc: d.str()}
	n.subject = perms.Subject{UID: uint32(d.uint(1<<32 - 1)), GID: uint32(d.uint(1<<32 - 1)), Mask: perms.Mask(d.uint(1<<32 - 1))}
	return n
}

func decodePosted(b []byte) (*posted, error) {
	d := &postedDecoder{b: b}
	const u32 = 1<<32 - 1
	p := &posted{cred: perms.Cred{UID: uint32(d.uint(u32)), GID: uint32(d.uint(u32))}}
	for n := d.count(); n > 0 && d.err == nil; n-- {
		p.cred.Groups = append(p.cred.Groups, uint32(d.uint(u32)))
	}
	for n := d.count(); n > 0 && d.err == nil; n-- {
		e := event{key: Serial(d.uint(u32)), sub: watchqueue.KeySubtype(d.uint(255)), aux: uint32(d.uint(u32))}
		e.keyName, e.auxName = d.name(), d.name()
		p.events = append(p.events, e)
	}
	for n := d.count(); n > 0 && d.err == nil; n-- {
		p.destroyed = append(p.destroyed, Serial(d.uint(u32)))
		p.destroyedNames = append(p.destroyedNames, d.name())
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = errPosted
	}
	if d.err != nil {
		return nil, d.err
	}
	return p, nil
}
