package ccache

import "strings"

// NameType is a principal's name type (RFC 4120 section 6.2).
type NameType int32

// Name types MIT writes into caches.
const (
	NameTypeUnknown   NameType = 0 // NT-UNKNOWN; what version 1 files imply
	NameTypePrincipal NameType = 1 // NT-PRINCIPAL: users, config entries, kvno's service names
	NameTypeSrvInst   NameType = 2 // NT-SRV-INST: krbtgt/REALM
	NameTypeSrvHost   NameType = 3 // NT-SRV-HST: host-based services
)

// Principal is a Kerberos principal name as a cache stores it. Realm and
// components are byte strings; they may hold any bytes, NUL included.
type Principal struct {
	NameType   NameType // not stored by version 1
	Realm      string
	Components []string
}

// String returns the principal in MIT's unparsed form: components joined by
// "/", then "@" and the realm, with "/", "@" and "\" inside a component or
// the realm escaped by a backslash, and tab, newline, backspace and NUL
// written as \t, \n, \b and \0.
func (p Principal) String() string {
	var b strings.Builder
	for i, c := range p.Components {
		if i > 0 {
			b.WriteByte('/')
		}
		writeEscaped(&b, c)
	}
	b.WriteByte('@')
	writeEscaped(&b, p.Realm)
	return b.String()
}

func writeEscaped(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '@', '/', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\b':
			b.WriteString(`\b`)
		case 0:
			b.WriteString(`\0`)
		default:
			b.WriteByte(c)
		}
	}
}

// Equal reports whether p and q have the same name type, realm and
// components.
func (p Principal) Equal(q Principal) bool {
	if p.NameType != q.NameType || p.Realm != q.Realm || len(p.Components) != len(q.Components) {
		return false
	}
	for i := range p.Components {
		if p.Components[i] != q.Components[i] {
			return false
		}
	}
	return true
}
