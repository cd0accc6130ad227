//go:build linux

package contrib

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// maxExposure is the most `systemd-analyze security` may rate the system
// service: 2.0 and below is what it calls "OK".
const maxExposure = 2.0

// execStart is the binary the units run; the tests point it at a stand-in,
// since systemd-analyze verify checks that it exists.
const execStart = "/usr/bin/keyctl-go"

// analyze returns the path of systemd-analyze, or skips the test.
func analyze(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("no systemd-analyze to check the units with (apt-get install systemd)")
	}
	return path
}

// units copies the units under dir (systemd/system or systemd/user), and
// their drop-in directories (keyctl-go.service.d), into a fresh
// directory, each running a stand-in executable instead of execStart,
// and returns the units' paths: systemd-analyze reads the drop-ins
// beside them.
func units(t *testing.T, dir string) []string {
	t.Helper()
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "keyctl-go")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var paths []string
	err := filepath.WalkDir(dir, func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, name)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		path := filepath.Join(tmp, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, bytes.ReplaceAll(b, []byte(execStart), []byte(bin)), 0o644); err != nil {
			return err
		}
		if filepath.Dir(rel) == "." {
			paths = append(paths, path)
		}
		return nil
	})
	if err != nil || len(paths) == 0 {
		t.Fatalf("no units in %s: %v", dir, err)
	}
	return paths
}

// run runs systemd-analyze with args and returns what it printed, and
// whether it exited 0.
func run(t *testing.T, env []string, args ...string) (string, bool) {
	t.Helper()
	cmd := exec.Command(analyze(t), args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	return string(out), err == nil
}

// systemd-analyze verify finds nothing to say about any unit: not an
// unknown key, not a bad value, not a missing dependency. It exits 0 on
// warnings, so the test wants silence.
func TestUnitsVerify(t *testing.T) {
	for _, c := range []struct {
		dir  string
		args []string
		env  []string
	}{
		{"systemd/system", []string{"verify", "--man=no"}, nil},
		// The user manager wants a runtime directory to work in.
		{"systemd/user", []string{"--user", "verify", "--man=no"}, []string{"XDG_RUNTIME_DIR=" + t.TempDir()}},
	} {
		t.Run(c.dir, func(t *testing.T) {
			out, ok := run(t, c.env, append(c.args, units(t, c.dir)...)...)
			if !ok || out != "" {
				t.Errorf("systemd-analyze %s: exit ok %v:\n%s", strings.Join(c.args, " "), ok, out)
			}
		})
	}
}

// exposureLine is the last line of systemd-analyze security's report.
var exposureLine = regexp.MustCompile(`Overall exposure level for keyctl-go\.service: ([0-9.]+) `)

// The system service's sandbox rates maxExposure or better.
func TestSystemServiceExposure(t *testing.T) {
	var service string
	for _, path := range units(t, "systemd/system") {
		if filepath.Base(path) == "keyctl-go.service" {
			service = path
		}
	}
	out, ok := run(t, nil, "security", "--offline=yes", "--no-pager", service)
	m := exposureLine.FindStringSubmatch(out)
	if !ok || m == nil {
		t.Fatalf("systemd-analyze security --offline=yes: exit ok %v:\n%s", ok, out)
	}
	exposure, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	if exposure > maxExposure {
		t.Errorf("exposure %.1f, want %.1f or less:\n%s", exposure, maxExposure, out)
	}
	t.Logf("exposure %.1f", exposure)
}

// sysusers.d makes the keyctl-go user, and tmpfiles.d the socket's
// directory, that user's and 0755, as the units expect: both run for
// real, in a directory standing for /.
func TestSysusersAndTmpfiles(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: tmpfiles gives the directory to another uid")
	}
	sysusers, err := exec.LookPath("systemd-sysusers")
	if err != nil {
		t.Skip("no systemd-sysusers (apt-get install systemd)")
	}
	tmpfiles, err := exec.LookPath("systemd-tmpfiles")
	if err != nil {
		t.Skip("no systemd-tmpfiles (apt-get install systemd)")
	}
	root := t.TempDir()
	for _, kind := range []string{"sysusers.d", "tmpfiles.d"} {
		b, err := os.ReadFile(filepath.Join(kind, "keyctl-go.conf"))
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(root, "etc", kind)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "keyctl-go.conf"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{sysusers, "--root=" + root, "keyctl-go.conf"}, {tmpfiles, "--root=" + root, "--create", "keyctl-go.conf"}} {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	user := entry(t, filepath.Join(root, "etc", "passwd"), 7)
	group := entry(t, filepath.Join(root, "etc", "group"), 4)
	if user[6] != "/usr/sbin/nologin" {
		t.Errorf("keyctl-go's shell is %q: nobody should log in as it", user[6])
	}
	uid, gid := id(t, user[2]), id(t, group[2])
	if uid == 0 || gid == 0 {
		t.Fatalf("keyctl-go is uid %d, gid %d: root's", uid, gid)
	}
	fi, err := os.Lstat(filepath.Join(root, "run", "keyctl-go"))
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != uid || st.Gid != gid || fi.Mode() != os.ModeDir|0o755 {
		t.Errorf("/run/keyctl-go: uid %d gid %d mode %v; want keyctl-go's (%d, %d), 0755", st.Uid, st.Gid, fi.Mode(), uid, gid)
	}
}

// entry is keyctl-go's line in a passwd-like file of n fields, split.
func entry(t *testing.T, file string, n int) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Split(line, ":"); len(f) == n && f[0] == "keyctl-go" {
			return f
		}
	}
	t.Fatalf("no keyctl-go in %s:\n%s", file, b)
	return nil
}

func id(t *testing.T, s string) uint32 {
	t.Helper()
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		t.Fatal(err)
	}
	return uint32(n)
}
