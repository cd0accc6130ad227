//go:build linux

package perms_test

import (
	"os"
	"slices"
	"testing"

	"github.com/keyctl-go/keyctl-go/perms"
)

// TestCurrent: the credentials are this process's, as the kernel has them.
func TestCurrent(t *testing.T) {
	c := perms.Current()
	if c.UID != uint32(os.Geteuid()) || c.GID != uint32(os.Getegid()) {
		t.Fatalf("Current() = uid %d gid %d, want %d %d", c.UID, c.GID, os.Geteuid(), os.Getegid())
	}
	groups, err := os.Getgroups()
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups {
		if !slices.Contains(c.Groups, uint32(g)) {
			t.Errorf("Current() groups %v lack %d", c.Groups, g)
		}
	}
	if len(c.Groups) != len(groups) {
		t.Errorf("Current() groups %v, want %v", c.Groups, groups)
	}
}
