//go:build linux

package perms

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Mask is a key's permission mask as the kernel stores it: four Perm
// bytes, possessor<<24 | user<<16 | group<<8 | other.
type Mask uint32

// Where each class's byte sits in a Mask, in bits.
const (
	PossessorShift = 24 // callers that possess the key; added to the class below
	UserShift      = 16 // the key's owner
	GroupShift     = 8  // members of the key's group, by primary or supplementary gid
	OtherShift     = 0  // everyone else, root included
)

// AllMask is every bit a Mask may carry: All in each class byte. Setting a
// mask with any other bit is EINVAL (see Validate).
const AllMask Mask = Mask(All)<<PossessorShift | Mask(All)<<UserShift | Mask(All)<<GroupShift | Mask(All)<<OtherShift

// The masks the kernel gives keys it creates: add_key without a mask, and
// the keyrings it makes on a task's behalf. No kernel interface sets a mask
// at creation; callers change it afterwards with setperm.
//
// add_key's rule is: the possessor gets View, Search, Link and Setattr, plus
// Read if the type can be read and Write if it is a keyring or can be
// updated; the owner gets View; group and other get nothing.
const (
	DefaultUserKey  Mask = 0x3f010000 // add_key of type "user": readable and updatable
	DefaultLogonKey Mask = 0x3d010000 // add_key of type "logon": updatable but never readable from userspace, so no Read
	DefaultBigKey   Mask = 0x3f010000 // add_key of type "big_key": readable and updatable, like "user"
	DefaultKeyring  Mask = 0x3f010000 // add_key of type "keyring"; Read lists its links, Write changes them

	DefaultThreadKeyring  Mask = 0x3f010000 // "_tid", made on first use of @t with create
	DefaultProcessKeyring Mask = 0x3f010000 // "_pid", made on first use of @p with create

	// DefaultSessionKeyring is for an anonymous session keyring "_ses", made
	// by joining a session without a name, or for a task that has none. The
	// owner may view and read it.
	DefaultSessionKeyring Mask = 0x3f030000

	// DefaultNamedSessionKeyring is for a session keyring made by joining a
	// name that does not exist yet. The owner may view, read and link it.
	DefaultNamedSessionKeyring Mask = 0x3f130000

	// DefaultUserKeyring is for the per-uid keyrings "_uid.<uid>" and
	// "_uid_ses.<uid>": the possessor gets everything but Setattr, the owner
	// everything. Their group is InvalidGID.
	DefaultUserKeyring Mask = 0x1f3f0000

	// DefaultPersistentKeyring is for "_persistent.<uid>": the possessor
	// gets everything but Setattr, the owner View and Read. Its group is
	// InvalidGID.
	DefaultPersistentKeyring Mask = 0x1f030000
)

// NewMask assembles a Mask from its four class bytes. It does not check
// them; a Perm with bits outside All makes a mask that Validate rejects.
func NewMask(possessor, user, group, other Perm) Mask {
	return Mask(possessor)<<PossessorShift | Mask(user)<<UserShift | Mask(group)<<GroupShift | Mask(other)<<OtherShift
}

// Possessor returns the byte granted to callers that possess the key.
func (m Mask) Possessor() Perm { return Perm(m >> PossessorShift) }

// User returns the byte granted to the key's owner.
func (m Mask) User() Perm { return Perm(m >> UserShift) }

// Group returns the byte granted to members of the key's group.
func (m Mask) Group() Perm { return Perm(m >> GroupShift) }

// Other returns the byte granted to everyone else.
func (m Mask) Other() Perm { return Perm(m >> OtherShift) }

// Validate returns an error that unwraps to EINVAL if m has bits outside
// AllMask, as the kernel's setperm does. Masks are validated where they
// enter (setperm, loading a stored key); Check ignores the extra bits.
func (m Mask) Validate() error {
	if m&^AllMask != 0 {
		return fmt.Errorf("perms: mask %v has bits outside %v: %w", m, AllMask, unix.EINVAL)
	}
	return nil
}

// String formats m as 0x and eight hex digits ("0x3f010000"), which
// ParseMask reads back. The kernel's describe and /proc/keys print the same
// digits without the 0x.
func (m Mask) String() string {
	return fmt.Sprintf("0x%08x", uint32(m))
}

// Describe formats m as keyctl describe prints it: 24 letters, six per
// class in the order possessor, user, group, other, each "alswrv" with '-'
// for a bit not set. DefaultUserKey is "alswrv-----v------------". Bits
// outside AllMask are not shown.
func (m Mask) Describe() string {
	b := make([]byte, 0, 24)
	b = m.Possessor().appendLetters(b)
	b = m.User().appendLetters(b)
	b = m.Group().appendLetters(b)
	b = m.Other().appendLetters(b)
	return string(b)
}
