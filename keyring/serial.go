//go:build linux

package keyring

import "strconv"

// Serial is a key's id: a positive 31-bit number that looks random (a
// keyed permutation of the store's allocation order; see keystore), or one of the
// special ids below that name a caller's keyrings.
type Serial int32

// Special ids (KEY_SPEC_*), keyutils' @t @p @s @u @us @g @a.
const (
	ThreadKeyring      Serial = -1 // @t
	ProcessKeyring     Serial = -2 // @p
	SessionKeyring     Serial = -3 // @s
	UserKeyring        Serial = -4 // @u
	UserSessionKeyring Serial = -5 // @us
	GroupKeyring       Serial = -6 // @g: never implemented by the kernel, always EINVAL
	ReqKeyAuthKey      Serial = -7 // @a
	// RequestorKeyring is, under an assumed authority, the requester's
	// destination keyring (KEY_SPEC_REQUESTOR_KEYRING; keyutils has no
	// name for it).
	RequestorKeyring Serial = -8
)

// String returns the keyutils name of a special id, or the number.
func (s Serial) String() string {
	switch s {
	case ThreadKeyring:
		return "@t"
	case ProcessKeyring:
		return "@p"
	case SessionKeyring:
		return "@s"
	case UserKeyring:
		return "@u"
	case UserSessionKeyring:
		return "@us"
	case GroupKeyring:
		return "@g"
	case ReqKeyAuthKey:
		return "@a"
	}
	return strconv.Itoa(int(s))
}
