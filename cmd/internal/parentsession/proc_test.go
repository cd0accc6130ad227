//go:build linux

package parentsession

import (
	"os"
	"testing"
)

// A comm may hold spaces and parentheses: fields count from the last ')'.
func TestParseStat(t *testing.T) {
	p, err := parseStat([]byte("7 (a) b) (c) S 1 7 7 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 3 0 99 0 0\n"))
	if want := (Proc{PID: 7, PPID: 1, Threads: 3, Start: 99}); err != nil || p != want {
		t.Errorf("parseStat: %+v, %v; want %+v", p, err, want)
	}
}

// ReadProc says of this process what the kernel says through syscalls.
func TestReadProcSelf(t *testing.T) {
	p, err := ReadProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	self, err := Self()
	if err != nil {
		t.Fatal(err)
	}
	uid, gid := uint32(os.Getuid()), uint32(os.Getgid())
	if p.PID != os.Getpid() || p.PPID != os.Getppid() || p.Threads < 2 || p.Start != self.Start ||
		!p.hasIDs(uid, gid) {
		t.Errorf("ReadProc(self) = %+v, Self %+v; want pid %d, ppid %d, Go's threads, ids %d/%d",
			p, self, os.Getpid(), os.Getppid(), uid, gid)
	}
}
