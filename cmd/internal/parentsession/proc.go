//go:build linux

package parentsession

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// A Proc is a process as /proc describes it: what a record names, and
// what the kernel looks at before it gives a process a session.
type Proc struct {
	PID  int
	PPID int // its parent's pid; 0 for init
	// Start is when the process started, in clock ticks since boot
	// (/proc/<pid>/stat field 22): with PID it names one process for
	// good, since a reused pid starts later.
	Start   uint64
	Threads int       // /proc/<pid>/stat field 20
	UIDs    [3]uint32 // real, effective, saved; set by ReadProc only
	GIDs    [3]uint32 // likewise
}

// ErrProcFormat is what a /proc file that does not read as Linux writes
// it is wrapped in.
var ErrProcFormat = errors.New("parentsession: unexpected /proc format")

// ReadProc reads pid's stat and status through one open /proc/<pid>, so
// that both describe the same process: if it exits and its pid is reused
// meanwhile, the reads fail (ESRCH) rather than describe another.
func ReadProc(pid int) (Proc, error) {
	dir, err := unix.Open("/proc/"+strconv.Itoa(pid), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return Proc{}, fmt.Errorf("parentsession: process %d: %w", pid, err)
	}
	defer unix.Close(dir)
	stat, err := readAt(dir, pid, "stat")
	if err != nil {
		return Proc{}, err
	}
	p, err := parseStat(stat)
	if err != nil {
		return Proc{}, fmt.Errorf("parentsession: /proc/%d/stat: %w", pid, err)
	}
	status, err := readAt(dir, pid, "status")
	if err != nil {
		return Proc{}, err
	}
	if p.UIDs, p.GIDs, err = parseStatus(status); err != nil {
		return Proc{}, fmt.Errorf("parentsession: /proc/%d/status: %w", pid, err)
	}
	return p, nil
}

// Self is the calling process, from its stat alone (no ids).
func Self() (Proc, error) { return readStat("self") }

// readStat reads /proc/<pid>/stat alone: all the walk needs of the
// ancestors that have no record.
func readStat(pid string) (Proc, error) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return Proc{}, fmt.Errorf("parentsession: %w", err)
	}
	p, err := parseStat(b)
	if err != nil {
		return Proc{}, fmt.Errorf("parentsession: /proc/%s/stat: %w", pid, err)
	}
	return p, nil
}

// maxProcFile bounds what is read of a /proc file: stat and status are
// a few hundred bytes to a few KiB.
const maxProcFile = 64 << 10 // bytes

func readAt(dir, pid int, name string) ([]byte, error) {
	fd, err := unix.Openat(dir, name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("parentsession: /proc/%d/%s: %w", pid, name, err)
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxProcFile))
	if err != nil {
		return nil, fmt.Errorf("parentsession: /proc/%d/%s: %w", pid, name, err)
	}
	return b, nil
}

// parseStat reads the pid, parent, thread count and start time from a
// /proc/<pid>/stat line: "pid (comm) state ppid ...". comm may hold
// spaces and parentheses, so the fields are counted from the last ')'.
func parseStat(b []byte) (Proc, error) {
	s := string(b)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return Proc{}, fmt.Errorf("no (comm): %w", ErrProcFormat)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(s[:open]))
	if err != nil || pid <= 0 {
		return Proc{}, fmt.Errorf("pid %q: %w", s[:open], ErrProcFormat)
	}
	// After comm: field 3 (state) is f[0], so field n is f[n-3].
	f := strings.Fields(s[end+1:])
	if len(f) < 20 {
		return Proc{}, fmt.Errorf("%d fields after comm: %w", len(f), ErrProcFormat)
	}
	ppid, err1 := strconv.Atoi(f[4-3])
	threads, err2 := strconv.Atoi(f[20-3])
	start, err3 := strconv.ParseUint(f[22-3], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil || ppid < 0 || threads < 0 {
		return Proc{}, fmt.Errorf("ppid %q, threads %q, start %q: %w", f[4-3], f[20-3], f[22-3], ErrProcFormat)
	}
	return Proc{PID: pid, PPID: ppid, Start: start, Threads: threads}, nil
}

// parseStatus reads the real, effective and saved uids and gids from
// /proc/<pid>/status ("Uid:\treal\teffective\tsaved\tfs").
func parseStatus(b []byte) (uids, gids [3]uint32, err error) {
	var haveUID, haveGID bool
	for line := range strings.SplitSeq(string(b), "\n") {
		name, rest, _ := strings.Cut(line, ":")
		var ids *[3]uint32
		switch name {
		case "Uid":
			ids, haveUID = &uids, true
		case "Gid":
			ids, haveGID = &gids, true
		default:
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 3 {
			return uids, gids, fmt.Errorf("%s: %q: %w", name, rest, ErrProcFormat)
		}
		for i := range ids {
			n, err := strconv.ParseUint(f[i], 10, 32)
			if err != nil {
				return uids, gids, fmt.Errorf("%s: %q: %w", name, rest, ErrProcFormat)
			}
			ids[i] = uint32(n)
		}
	}
	if !haveUID || !haveGID {
		return uids, gids, fmt.Errorf("no Uid or Gid line: %w", ErrProcFormat)
	}
	return uids, gids, nil
}

// Parent is the process the kernel's KEYCTL_SESSION_TO_PARENT would give
// the caller's session to, if it may: the caller's parent, if it is not
// init, runs a single thread, and has uid as its real, effective and
// saved uid and gid as its real, effective and saved gid (the caller's
// effective ids). Anything else is EPERM, as the kernel answers, and so
// is a parent that exits meanwhile.
func Parent(uid, gid uint32) (Proc, error) {
	ppid := os.Getppid()
	if ppid <= 1 {
		return Proc{}, fmt.Errorf("parentsession: the parent is init (pid %d): %w", ppid, unix.EPERM)
	}
	p, err := ReadProc(ppid)
	// Still our parent after the reads: it had not exited when they
	// began (an orphan is given to a reaper as its parent exits), so what
	// they read was the parent, not a process that took its pid.
	if os.Getppid() != ppid {
		return Proc{}, fmt.Errorf("parentsession: the parent, process %d, exited: %w", ppid, unix.EPERM)
	}
	if err != nil {
		return Proc{}, fmt.Errorf("parentsession: the parent, process %d: %v: %w", ppid, err, unix.EPERM)
	}
	switch {
	case p.Threads != 1:
		return Proc{}, fmt.Errorf("parentsession: the parent, process %d, runs %d threads: %w", ppid, p.Threads, unix.EPERM)
	case !p.hasIDs(uid, gid):
		return Proc{}, fmt.Errorf("parentsession: the parent, process %d, has uids %v and gids %v, not all %d and %d: %w",
			ppid, p.UIDs, p.GIDs, uid, gid, unix.EPERM)
	}
	return p, nil
}

// hasIDs reports whether uid and gid are all of p's real, effective and
// saved ids.
func (p Proc) hasIDs(uid, gid uint32) bool {
	return p.UIDs == [3]uint32{uid, uid, uid} && p.GIDs == [3]uint32{gid, gid, gid}
}
