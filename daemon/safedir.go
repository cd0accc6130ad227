//go:build linux

package daemon

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// A dirPolicy says what the directories on the way to a daemon's socket
// or store must be, so that nobody but root and the daemon's own user can
// change what is at that path: a socket somebody else could swap would
// hand the clients' secrets to whoever swapped it.
//
// Every component, from / down, is checked as it stands (lstat):
//   - a directory, not a symbolic link (ENOTDIR): a link's target is
//     whatever its owner, or the owner of the directory holding it, says;
//   - owned by root or the daemon's user (EPERM);
//   - not writable by group or others (EPERM), unless it has the sticky
//     bit, as /tmp does: there, nobody but an entry's owner (root or the
//     daemon's user, by the rule above) may rename or remove it.
//
// The last directory, if private, must be the daemon's user's own, and
// writable by nobody else, sticky or not: a per-user daemon's socket
// directory, where nobody else has any business. Missing components are
// made, with the policy's modes; components already there are never
// changed: the path
// may run through /tmp or a system directory, whose mode is not ours to
// tighten. The checks hold for as long as they ran, since only root and
// the daemon's user could change what they found.
type dirPolicy struct {
	uid     uint32      // the daemon's effective uid
	private bool        // the last directory must be uid's, writable by uid alone
	mode    os.FileMode // a missing last directory is made with this mode
	parents os.FileMode // missing directories above it are made with this mode
}

// prepare makes dir and its missing parents, and checks every component
// of it from /. Errors name the directory at fault and unwrap to ENOTDIR
// or EPERM (or what lstat and mkdir met).
func (p dirPolicy) prepare(dir string) error { return p.walk(dir, true) }

// verify checks every component of dir from / as prepare does, and makes
// nothing: a missing one is ENOENT.
func (p dirPolicy) verify(dir string) error { return p.walk(dir, false) }

// walk checks the components of dir from /, making missing ones if create.
func (p dirPolicy) walk(dir string, create bool) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("daemon: %w", err)
	}
	path := "/"
	names := strings.Split(strings.TrimPrefix(dir, "/"), "/")
	if dir == "/" {
		names = nil
	}
	if err := p.check(path, len(names) == 0); err != nil {
		return err
	}
	for i, name := range names {
		path = filepath.Join(path, name)
		last := i == len(names)-1
		mode := p.parents
		if last {
			mode = p.mode
		}
		if create {
			if err := mkdirIfMissing(path, mode); err != nil {
				return err
			}
		}
		if err := p.check(path, last); err != nil {
			return err
		}
	}
	return nil
}

// mkdirIfMissing makes path with mode if nothing is there. The mode is
// set again after the mkdir, which the umask filtered: the directory is
// the daemon's own, made just now under a parent that nobody else may
// change.
func mkdirIfMissing(path string, mode os.FileMode) error {
	err := os.Mkdir(path, mode)
	switch {
	case errors.Is(err, os.ErrExist):
		return nil
	case err != nil:
		return fmt.Errorf("daemon: %w", err)
	}
	if err := os.Chmod(path, mode); err != nil {
		return fmt.Errorf("daemon: %w", err)
	}
	return nil
}

// check applies the policy to the component at path; last says it is
// the directory itself rather than one on the way.
func (p dirPolicy) check(path string, last bool) error {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return fmt.Errorf("daemon: %s: %w", path, err)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
	case unix.S_IFLNK:
		return fmt.Errorf("daemon: %s is a symbolic link, not a directory: %w", path, unix.ENOTDIR)
	default:
		return fmt.Errorf("daemon: %s is not a directory: %w", path, unix.ENOTDIR)
	}
	perm := st.Mode & 0o7777
	if st.Uid != 0 && st.Uid != p.uid {
		return fmt.Errorf("daemon: %s belongs to uid %d, neither root nor the daemon's uid %d: %w", path, st.Uid, p.uid, unix.EPERM)
	}
	if perm&0o022 != 0 && perm&unix.S_ISVTX == 0 {
		return fmt.Errorf("daemon: %s (mode %04o) is writable by others and not sticky: %w", path, perm, unix.EPERM)
	}
	if last && p.private && (st.Uid != p.uid || perm&0o022 != 0) {
		return fmt.Errorf("daemon: %s (uid %d, mode %04o) must be uid %d's, and writable by nobody else: %w", path, st.Uid, perm, p.uid, unix.EPERM)
	}
	return nil
}
