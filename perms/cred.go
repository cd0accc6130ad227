//go:build linux

package perms

import "slices"

// Cred is who is asking: the credentials the kernel would take from the
// calling task (fsuid, fsgid and supplementary groups). Watches capture the
// Cred of their creator, and checks made later use that captured copy.
type Cred struct {
	UID    uint32
	GID    uint32
	Groups []uint32 // supplementary groups
}

// InGroup reports whether gid is c's group or one of its supplementary groups.
func (c Cred) InGroup(gid uint32) bool {
	return c.GID == gid || slices.Contains(c.Groups, gid)
}

// Clone returns a copy of c that shares no memory with it, for capturing.
func (c Cred) Clone() Cred {
	c.Groups = slices.Clone(c.Groups)
	return c
}
