//go:build linux

package perms

import (
	"fmt"
	"strings"
)

// Perm is one byte of a Mask: the permissions granted to one class of
// caller, or the permissions an operation needs. The bit values are the
// kernel's KEY_OTH_* values, which every class byte shares.
type Perm uint8

// The permission bits, in the kernel's order. Which operation needs which
// bit is the key store's business (see keyctl(2)); the comments name the
// usual ones.
const (
	View    Perm = 0x01 // see the key's type, owner, mask and description (describe)
	Read    Perm = 0x02 // read the payload, or list a keyring's links
	Write   Perm = 0x04 // update the payload, or add, remove and clear a keyring's links
	Search  Perm = 0x08 // find the key by searching, or search through a keyring
	Link    Perm = 0x10 // link the key into a keyring
	Setattr Perm = 0x20 // change owner, group, mask or timeout
	All     Perm = 0x3f // every bit above; bits outside All have no meaning
)

// permNames lists the bits in the order keyutils prints them, most
// significant first: a l s w r v.
var permNames = [...]struct {
	bit    Perm
	letter byte
	name   string
}{
	{Setattr, 'a', "setattr"},
	{Link, 'l', "link"},
	{Search, 's', "search"},
	{Write, 'w', "write"},
	{Read, 'r', "read"},
	{View, 'v', "view"},
}

// String names the bits set in p, most significant first, joined by '|'
// ("search|view"), "none" for no bits, and any bits outside All in hex.
// It is for messages; keyutils' letter form is what Mask.Describe and
// EffectiveString print.
func (p Perm) String() string {
	if p == 0 {
		return "none"
	}
	var names []string
	for _, n := range permNames {
		if p&n.bit != 0 {
			names = append(names, n.name)
		}
	}
	if extra := p &^ All; extra != 0 {
		names = append(names, fmt.Sprintf("%#02x", uint8(extra)))
	}
	return strings.Join(names, "|")
}

// appendLetters appends keyutils' six-letter form of p: "alswrv" with '-'
// for each bit not set. Bits outside All are not shown, as in keyutils.
func (p Perm) appendLetters(b []byte) []byte {
	for _, n := range permNames {
		if p&n.bit != 0 {
			b = append(b, n.letter)
		} else {
			b = append(b, '-')
		}
	}
	return b
}
