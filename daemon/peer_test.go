package daemon

import (
	"os"
	"slices"
	"testing"
)

func TestGroupsOf(t *testing.T) {
	want, err := os.Getgroups()
	if err != nil {
		t.Fatal(err)
	}
	pid, uid, gid := int32(os.Getpid()), uint32(os.Geteuid()), uint32(os.Getegid())
	got := groupsOf(pid, uid, gid)
	var wantU []uint32
	for _, g := range want {
		wantU = append(wantU, uint32(g))
	}
	slices.Sort(got)
	slices.Sort(wantU)
	if !slices.Equal(got, wantU) {
		t.Errorf("groupsOf(self) = %v, want %v", got, wantU)
	}
	// A pid whose uid or gid is not the one the kernel gave at connect is
	// another process now: none of its groups are believed.
	if got := groupsOf(pid, uid+1, gid); got != nil {
		t.Errorf("groupsOf with the wrong uid = %v, want none", got)
	}
	if got := groupsOf(pid, uid, gid+1); got != nil {
		t.Errorf("groupsOf with the wrong gid = %v, want none", got)
	}
	if got := groupsOf(-1, uid, gid); got != nil {
		t.Errorf("groupsOf of no process = %v, want none", got)
	}
}
