//go:build linux

package cli

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/internal/childtest"
)

// serviceUID is the uid standing for the keyctl-go user that the system
// units run the daemon as (contrib/sysusers.d): any uid but root's and
// the clients'.
const serviceUID = 64990

// The system daemon as contrib/systemd runs it: socket-activated, as the
// keyctl-go user, on a store directory that user owns (StateDirectory=)
// and a socket directory it owns (tmpfiles.d, RuntimeDirectory=). Nothing
// it does needs root: it serves users of other uids, each as the kernel
// says they are; the checks that want root (chown) are the caller's, so
// root may chown through it and a user may not; and `daemon status`
// tells a user their own row alone, root everyone's.
func TestDaemonAsServiceUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the daemon runs as another uid, its clients as others still")
	}
	root, err := os.MkdirTemp("", "keyctl-go-service-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	// What systemd makes before it starts the service.
	state := filepath.Join(root, filepath.Dir(daemon.SystemStore))
	run := filepath.Join(root, filepath.Dir(daemon.SystemSocket))
	for dir, mode := range map[string]os.FileMode{state: 0o700, run: 0o755} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, serviceUID, serviceUID); err != nil {
			t.Fatal(err)
		}
	}
	socket := filepath.Join(run, "socket")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: socket, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	if err := os.Chmod(socket, 0o666); err != nil { // SocketMode=
		t.Fatal(err)
	}
	if err := os.Chown(socket, serviceUID, serviceUID); err != nil { // SocketUser=
		t.Fatal(err)
	}
	lnFile, err := ln.File()
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()

	bin := publicCopy(t)
	db := filepath.Join(state, "keys.db")
	cmd := exec.Command("/bin/sh", "-c", `export LISTEN_PID=$$; exec "$0" "$@"`, bin, "--db", db, "daemon", "--system")
	cmd.Env = []string{"LISTEN_FDS=1", "HOME=/nonexistent", "PATH=/usr/bin:/bin", "JOURNAL_STREAM=1:1"}
	cmd.ExtraFiles = []*os.File{lnFile}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: serviceUID, Gid: serviceUID, Groups: []uint32{}}}
	stderr := &childtest.Log{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lnFile.Close()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		c, err := daemon.Dial(context.Background(), socket)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the service daemon never answered: %v\n%s", err, stderr)
		}
	}

	id, errs, code := runAs(t, bin, socket, 1000, "add", "user", "alices", "secret", "@u")
	if code != 0 {
		t.Fatalf("uid 1000 adding a key: exit %d, %s\ndaemon: %s", code, errs, stderr)
	}
	id = strings.TrimSpace(id)
	if out, errs, code := runAs(t, bin, socket, 1001, "print", id); code != 1 || out != "" || errs != "keyctl_read_alloc: Permission denied\n" {
		t.Errorf("uid 1001 printing uid 1000's key: exit %d, %q, %q", code, out, errs)
	}
	if out, errs, code := runAs(t, bin, socket, 1000, "print", id); code != 0 || out != "secret\n" {
		t.Errorf("uid 1000 printing its key: exit %d, %q, %q", code, out, errs)
	}
	// chown wants root (standing for CAP_SYS_ADMIN): the caller's uid,
	// not the daemon's.
	if out, errs, code := runAs(t, bin, socket, 1000, "chown", id, "1001"); code != 1 || errs != "keyctl_chown: Permission denied\n" {
		t.Errorf("uid 1000 giving its key away: exit %d, %q, %q", code, out, errs)
	}
	roots, errs, code := runAs(t, bin, socket, 0, "add", "user", "roots", "for 1001", "@u")
	if code != 0 {
		t.Fatalf("root adding a key: exit %d, %s", code, errs)
	}
	roots = strings.TrimSpace(roots)
	if out, errs, code := runAs(t, bin, socket, 0, "chown", roots, "1001"); code != 0 {
		t.Errorf("root giving its key to uid 1001 through a daemon that is not root: exit %d, %q, %q", code, out, errs)
	}
	if out, errs, code := runAs(t, bin, socket, 1001, "describe", roots); code != 0 || !strings.Contains(squeeze(out), " 1001 0 user: roots\n") {
		t.Errorf("uid 1001 describing the key root gave it: exit %d, %q, %q", code, out, errs)
	}

	// uid 1000 watches its user keyring through a connection kept open.
	watch := exec.Command(bin, "watch", "@u")
	watch.Env = []string{envSocket + "=" + socket, "HOME=/nonexistent", "PATH=/usr/bin:/bin"}
	watch.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 1000, Gid: 1000, Groups: []uint32{}}}
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { watch.Process.Kill(); watch.Wait() })
	rootsRows := func() string {
		out, errs, code := runAs(t, bin, socket, 0, "daemon", "status", "--socket", socket)
		if code != 0 {
			t.Fatalf("root's daemon status: exit %d, %q", code, errs)
		}
		return out
	}
	row := func(uid, conns, watches int) string {
		return strings.Join([]string{strconv.Itoa(uid), strconv.Itoa(conns), strconv.Itoa(watches)}, " ")
	}
	var status string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if status = rootsRows(); strings.Contains(squeeze(status), row(1000, 1, 1)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("root never saw uid 1000's watch:\n%s", status)
		}
	}
	wantHead := "socket:  " + socket + "\nstore:   " + db + "\nmode:    system\nuptime:  "
	if !strings.HasPrefix(status, wantHead) || !strings.Contains(squeeze(status), "\nuid connections watches\n"+row(0, 1, 0)+"\n"+row(1000, 1, 1)+"\n") {
		t.Errorf("root's daemon status:\n%s\nwant it to begin %q, and rows for root and uid 1000", status, wantHead)
	}
	out, errs, code := runAs(t, bin, socket, 1001, "daemon", "status")
	if code != 0 || !strings.HasSuffix(squeeze(out), "\nuid connections watches\n"+row(1001, 1, 0)+"\n") {
		t.Errorf("uid 1001's daemon status: exit %d, %q\n%s\nwant its own row alone", code, errs, out)
	}

	// The store is the service user's, and nobody else's to read.
	for _, name := range []string{"keys.db", "keys.db.key", "keys.db.wal"} {
		fi, err := os.Stat(filepath.Join(state, name))
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != serviceUID || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: uid %d, mode %v; want uid %d, 0600", name, st.Uid, fi.Mode().Perm(), serviceUID)
		}
	}
	watch.Process.Kill()
	watch.Wait()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("service daemon after SIGTERM: %v\n%s", err, stderr)
	}
	if !strings.Contains(stderr.String(), "mode=system") {
		t.Errorf("the daemon's log does not say it started in system mode:\n%s", stderr)
	}
}

// squeeze collapses each run of spaces in s into one, so that rows are
// compared by their values, not by the columns' widths.
func squeeze(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == ' ' }), " ")
}
