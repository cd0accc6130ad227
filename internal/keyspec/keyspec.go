// Package keyspec parses the key arguments of keyutils' keyctl: special
// keyring names (@s, @us, ...), serial numbers as C's strtoul reads them,
// and "%type:description" lookups. It is pure text handling; resolving a
// lookup against a key store is the caller's job, because keyctl does it
// with the caller's credentials and session.
package keyspec

import (
	"errors"
	"fmt"
	"strings"

	"github.com/keyctl-go/keyctl-go/internal/clib"
)

// Special ids (KEY_SPEC_*), as keyctl's @ names give them.
const (
	Thread      int32 = -1 // @t
	Process     int32 = -2 // @p
	Session     int32 = -3 // @s
	User        int32 = -4 // @u
	UserSession int32 = -5 // @us
	Group       int32 = -6 // @g
	ReqKeyAuth  int32 = -7 // @a
)

var specials = map[string]int32{
	"t": Thread, "p": Process, "s": Session, "u": User,
	"us": UserSession, "g": Group, "a": ReqKeyAuth,
}

// Errors a key argument can fail with; keyctl reports each and exits 2.
// Error returns the exact line keyctl prints.
var (
	ErrUnparsable     = errors.New("keyspec: unparsable key")
	ErrUnknownSpecial = errors.New("keyspec: unknown special key")
	ErrByName         = errors.New("keyspec: incorrect key-by-name spec")
)

// Error is a key argument keyctl would refuse, carrying the argument so the
// message can quote it as keyctl does.
type Error struct {
	Arg string
	Err error // one of the sentinels above
}

// Error returns keyctl's message for the argument, word for word.
func (e *Error) Error() string {
	switch e.Err {
	case ErrUnknownSpecial:
		return fmt.Sprintf("Unknown special key: '%s'", e.Arg)
	case ErrByName:
		return "Incorrect key-by-name spec"
	default:
		return fmt.Sprintf("Unparsable key: '%s'", e.Arg)
	}
}

func (e *Error) Unwrap() error { return e.Err }

// Spec is a parsed key argument: either an id (a serial or a special id) or,
// when ByName is set, a type and description to look up.
type Spec struct {
	ID     int32
	ByName bool
	Type   string
	Desc   string
}

// String is the lookup keyctl reports when it finds nothing: "type:desc".
func (s Spec) String() string {
	if s.ByName {
		return s.Type + ":" + s.Desc
	}
	return fmt.Sprint(s.ID)
}

// Parse reads one key argument as keyctl 1.6.3 does:
//
//   - "@t", "@p", "@s", "@u", "@us", "@g", "@a" are the special ids; any
//     other "@" name is ErrUnknownSpecial.
//   - "%type:desc" looks a key up by type and description, and "%:name" a
//     keyring by name; a missing colon, or an empty description, is ErrByName.
//   - Anything else is a number read by strtoul with base 0 and then
//     truncated to 32 bits, so "0x1f", "017", "-3" (the session keyring) and
//     even "" (0, which the kernel refuses) are accepted; trailing junk is
//     ErrUnparsable.
func Parse(arg string) (Spec, error) {
	switch {
	case strings.HasPrefix(arg, "@"):
		id, ok := specials[arg[1:]]
		if !ok {
			return Spec{}, &Error{Arg: arg, Err: ErrUnknownSpecial}
		}
		return Spec{ID: id}, nil
	case strings.HasPrefix(arg, "%"):
		typ, desc, ok := strings.Cut(arg[1:], ":")
		if !ok || desc == "" {
			return Spec{}, &Error{Arg: arg, Err: ErrByName}
		}
		if typ == "" {
			typ = "keyring"
		}
		return Spec{ByName: true, Type: typ, Desc: desc}, nil
	}
	n, rest, _ := clib.Strtoul(arg, 0) // out of range reads as ULONG_MAX, as keyctl takes it
	if rest != "" {
		return Spec{}, &Error{Arg: arg, Err: ErrUnparsable}
	}
	// keyctl stores strtoul's unsigned long in a 32-bit key_serial_t.
	return Spec{ID: int32(uint32(n))}, nil
}
