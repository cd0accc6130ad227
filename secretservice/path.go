//go:build linux

package secretservice

import (
	"strings"

	"github.com/godbus/dbus/v5"
)

// An object path element may hold only [A-Za-z0-9_]; service and account
// names are any UTF-8. escapeName keeps letters and digits and writes
// every other byte as '_' and two lowercase hex digits, as systemd's
// bus_label_escape does, so names map one to one onto elements.
func escapeName(name string) string {
	const hex = "0123456789abcdef"
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('_')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// unescapeName undoes escapeName; ok is false for an element escapeName
// never makes (so every name has one path, and one path one name).
func unescapeName(elem string) (string, bool) {
	if elem == "" {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(elem); i++ {
		c := elem[i]
		switch {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9':
			b.WriteByte(c)
		case c == '_' && i+2 < len(elem):
			hi, ok1 := unhex(elem[i+1])
			lo, ok2 := unhex(elem[i+2])
			v := hi<<4 | lo
			if !ok1 || !ok2 || 'a' <= v && v <= 'z' || 'A' <= v && v <= 'Z' || '0' <= v && v <= '9' {
				return "", false
			}
			b.WriteByte(v)
			i += 2
		default:
			return "", false
		}
	}
	return b.String(), true
}

// unhex is a lowercase hex digit's value.
func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

func collectionPath(service string) dbus.ObjectPath {
	return dbus.ObjectPath(collectionBase + escapeName(service))
}

func itemPath(service, account string) dbus.ObjectPath {
	return dbus.ObjectPath(collectionBase + escapeName(service) + "/" + escapeName(account))
}

// objectKind is what a path names.
type objectKind uint8

const (
	objNone objectKind = iota
	objService
	objCollection
	objItem
	objSession
)

// object is a parsed path: a collection by name or alias, an item in it,
// or a session.
type object struct {
	kind    objectKind
	alias   string // the collection was named by this alias
	service string // the collection's name, once an alias is resolved
	account string
	session string
}

// parsePath reads what a path names, without looking anything up.
func parsePath(p dbus.ObjectPath) (object, bool) {
	s := string(p)
	if s == string(servicePath) {
		return object{kind: objService}, true
	}
	var rest string
	var o object
	switch {
	case strings.HasPrefix(s, collectionBase):
		rest = s[len(collectionBase):]
	case strings.HasPrefix(s, aliasBase):
		rest = s[len(aliasBase):]
		o.alias = "-" // filled below
	case strings.HasPrefix(s, sessionBase):
		id := s[len(sessionBase):]
		if id == "" || strings.Contains(id, "/") {
			return object{}, false
		}
		return object{kind: objSession, session: id}, true
	default:
		return object{}, false
	}
	first, second, hasItem := strings.Cut(rest, "/")
	name, ok := unescapeName(first)
	if !ok {
		return object{}, false
	}
	if o.alias != "" {
		o.alias = name
	} else {
		o.service = name
	}
	o.kind = objCollection
	if hasItem {
		account, ok := unescapeName(second)
		if !ok {
			return object{}, false
		}
		o.kind, o.account = objItem, account
	}
	return o, true
}
