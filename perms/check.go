//go:build linux

package perms

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// InvalidGID is the group of a key that has none: the kernel's INVALID_GID,
// (gid_t)-1. User and persistent keyrings have it. A key with this group
// grants its group byte to nobody.
const InvalidGID uint32 = 0xffffffff

// OverflowGID is what the kernel prints in place of InvalidGID (in describe
// and /proc/keys), from /proc/sys/kernel/overflowgid, 65534 unless changed.
// It is only a display value: a caller whose group is 65534 is not a member
// of a key whose group is InvalidGID.
const OverflowGID uint32 = 65534

// Subject is what a permission check needs to know about a key.
type Subject struct {
	UID  uint32 // owner
	GID  uint32 // group, or InvalidGID
	Mask Mask
}

// Granted returns the permissions the kernel grants c on k: exactly one of
// the user, group or other bytes, plus the possessor byte if possessed. It
// follows key_task_permission in security/keys/permission.c:
//
//   - the user byte if c is the owner, whatever the other bytes say;
//   - else the group byte if k has a valid group, the group byte is not
//     empty, and c's gid or a supplementary gid is that group;
//   - else the other byte.
//
// An empty group byte therefore lets group members fall through to the
// other byte, while a non-empty one binds them to it even if the other byte
// grants more. Root is not special: the kernel's CAP_SYS_ADMIN overrides
// belong to particular operations, not to this check.
//
// Whether c possesses k (reaches it from its thread, process or session
// keyring through keyrings that grant it Search) is for the caller to
// decide; note that k itself must grant c Search, counting the possessor
// byte, to be possessed. Bits of k.Mask outside AllMask are ignored.
func Granted(c Cred, k Subject, possessed bool) Perm {
	var p Perm
	switch {
	case k.UID == c.UID:
		p = k.Mask.User()
	case k.GID != InvalidGID && k.Mask.Group()&All != 0 && c.InGroup(k.GID):
		p = k.Mask.Group()
	default:
		p = k.Mask.Other()
	}
	if possessed {
		p |= k.Mask.Possessor()
	}
	return p & All
}

// Check returns nil if c may do something that needs every bit of need on
// k, and otherwise an error that unwraps to EACCES. See Granted for the
// algorithm.
//
// A need of zero, or with bits outside All, is a bug in the caller (every
// kernel operation needs at least one defined bit) and panics rather than
// granting by accident.
func Check(c Cred, k Subject, possessed bool, need Perm) error {
	if need == 0 || need&^All != 0 {
		panic(fmt.Sprintf("perms: Check needs a permission within All, got %v", need))
	}
	got := Granted(c, k, possessed)
	if got&need == need {
		return nil
	}
	return fmt.Errorf("perms: uid %d gid %d needs %v on key of uid %d gid %d mask %v (possessed %t), granted %v: %w",
		c.UID, c.GID, need, k.UID, k.GID, k.Mask, possessed, got, unix.EACCES)
}

// EffectiveString formats what keyctl show and keyctl list print in their
// permissions column: "--" and six letters "alswrv" ('-' for unset), for the
// permissions keyutils estimates c has on k ("--alswrv" for DefaultUserKey
// and its owner).
//
// The estimate is keyutils' (calc_perms in keyctl.c), not the kernel's, and
// differs from Granted in two ways: the possessor byte is always added, as
// if every listed key were possessed; and a group member gets the group
// byte even when it is empty, instead of falling through to the other byte.
// c is keyutils' euid, egid and getgroups().
//
// keyutils reads the gid from describe, where InvalidGID appears as
// OverflowGID; pass that to reproduce keyutils exactly for a caller in
// group 65534.
func EffectiveString(c Cred, k Subject) string {
	p := k.Mask.Possessor()
	switch {
	case k.UID == c.UID:
		p |= k.Mask.User()
	case k.GID != InvalidGID && c.InGroup(k.GID):
		p |= k.Mask.Group()
	default:
		p |= k.Mask.Other()
	}
	return string(p.appendLetters([]byte("--")))
}
