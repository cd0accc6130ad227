//go:build linux

package perms

import "os"

// Current is the calling process's credentials as the kernel would take
// them for a key operation: its effective uid and gid (which are its
// fsuid and fsgid unless it changed those alone) and its supplementary
// groups. The daemon learns the same three from SO_PEERCRED and
// SO_PEERGROUPS, so a program acting on a store of its own with Current
// is the caller the daemon would have seen. A process whose groups cannot
// be read (getgroups(2) failing, which it does not for a live process) is
// given none, which grants less, never more.
//
// It is the one function of the package that asks the operating system
// anything; a Cred made by hand is as good for everything else.
func Current() Cred {
	c := Cred{UID: uint32(os.Geteuid()), GID: uint32(os.Getegid())}
	groups, _ := os.Getgroups()
	for _, g := range groups {
		c.Groups = append(c.Groups, uint32(g))
	}
	return c
}
