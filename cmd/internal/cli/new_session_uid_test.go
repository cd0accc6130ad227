//go:build linux

package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyctl-go/keyctl-go/daemon"
)

// new_session as bob gives his session to none but a parent whose every
// uid and gid are his, as the kernel's KEYCTL_SESSION_TO_PARENT: to a
// root shell, or to one with his real uid but root's effective uid (a
// set-id program), it is EPERM, and nothing is recorded; to his own
// shell, it works.
func TestNewSessionRefusesAParentOfAnotherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the parents and the caller run as other uids")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("needs setpriv (util-linux), to run bob below a parent of other ids")
	}
	bin := publicCopy(t)
	const asBob = "setpriv --reuid=1001 --regid=1001 --clear-groups "
	for _, c := range []struct {
		name, script string
		refused      bool
	}{
		{"a root shell", `bash -c '` + asBob + `keyctl-go new_session; echo rc=$?'`, true},
		{"bob's real uid, root's effective", `setpriv --ruid=1001 --rgid=1001 --clear-groups bash -p -c '` + asBob + `keyctl-go new_session; echo rc=$?'`, true},
		{"bob's own shell", asBob + `bash -c 'keyctl-go new_session; echo rc=$?'`, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			store, runtimeDir := usersDir(t, bobUID, 0o700), usersDir(t, bobUID, 0o700)
			cmd := exec.Command("bash", "-c", c.script)
			cmd.Env = []string{"HOME=/nonexistent", "PATH=" + filepath.Dir(bin) + ":/usr/bin:/bin",
				envDB + "=" + filepath.Join(store, "keys.db"), "XDG_RUNTIME_DIR=" + runtimeDir}
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("%v: %s", err, stderr.String())
			}
			records, _ := os.ReadDir(filepath.Join(daemon.UserDir(runtimeDir), "parents"))
			if c.refused {
				if !strings.HasSuffix(stdout.String(), "rc=1\n") || stderr.String() != "keyctl_session_to_parent: Operation not permitted\n" {
					t.Errorf("stdout %q, stderr %q; want keyctl's EPERM, exit 1", stdout.String(), stderr.String())
				}
				if len(records) != 0 {
					t.Errorf("refused, yet %d records made", len(records))
				}
				return
			}
			if !strings.HasSuffix(stdout.String(), "rc=0\n") || len(records) != 1 {
				t.Errorf("stdout %q, stderr %q, %d records; want a session given and recorded", stdout.String(), stderr.String(), len(records))
			}
		})
	}
}

// The script of TestNewSessionIgnoresRecordsInAnUnsafeDirectory: $2
// spoils the records' directory, $3 mends it.
const unsafeDirScript = `
echo start $(keyctl-go id @s)
keyctl-go new_session >"$1/new" || exit 1
echo new $(cat "$1/new")
eval "$2"
echo spoiled $(keyctl-go id @s 2>"$1/err")
eval "$3"
echo mended $(keyctl-go id @s)
`

// Records are read only from a directory nobody but the user and root
// could have written: in one another user could write to, or own, or
// swap, a record (here a real one, naming the user's own session, which
// AdoptSession would take) is ignored, with a warning naming the
// directory, and @s is what it would be without records.
func TestNewSessionIgnoresRecordsInAnUnsafeDirectory(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to give the directory to another uid")
	}
	for _, c := range []struct{ name, spoil, mend, bad string }{
		{"parents group-writable", `chmod 0770 "$P"`, `chmod 0700 "$P"`, "$P"},
		{"parents another user's", `chown 1001 "$P"`, `chown 0 "$P"`, "$P"},
		{"parents a symbolic link", `mv "$P" "$P.real"; ln -s "$P.real" "$P"`, `rm "$P"; mv "$P.real" "$P"`, "$P"},
		{"keyctl-go another user's", `chown 1001 "$K"`, `chown 0 "$K"`, "$K"},
		{"the runtime directory open to all", `chmod 0777 "$R"`, `chmod 0700 "$R"`, "$R"},
	} {
		t.Run(c.name, func(t *testing.T) {
			env, _, runtimeDir := newSessionEnv(t)
			k := daemon.UserDir(runtimeDir)
			paths := strings.NewReplacer("$P", filepath.Join(k, "parents"), "$K", k, "$R", runtimeDir)
			out := t.TempDir()
			got := bashLines(t, env, unsafeDirScript, out, paths.Replace(c.spoil), paths.Replace(c.mend))
			start, made := first(got["start"]), first(got["new"])
			if s := first(got["spoiled"]); s != start {
				t.Errorf("@s with the directory spoiled: %s; want %s, as without records (new_session gave %s)", s, start, made)
			}
			warned, _ := os.ReadFile(filepath.Join(out, "err"))
			if bad := paths.Replace(c.bad); !strings.Contains(string(warned), "ignoring the sessions new_session gave") ||
				!strings.Contains(string(warned), bad+" ") {
				t.Errorf("warning %q; want one naming %s", warned, bad)
			}
			if m := first(got["mended"]); m != made || made == start {
				t.Errorf("@s with the directory mended: %s; want %s, what new_session gave", m, made)
			}
		})
	}
}

// Bob rewrites his own record to name alice's session, which he knows
// the serial of: AdoptSession refuses it (EACCES), so his commands fail
// rather than possess her keys. Alice, through the same daemon, has her
// session as @s and reads her key.
func TestNewSessionRecordNamingAnotherUsersSession(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the system daemon runs as root, its clients as other uids")
	}
	socket, _ := systemDaemon(t)
	bin := publicCopy(t)
	alice := newUser(t, bin, socket, aliceUID)
	bob := newUser(t, bin, socket, bobUID)

	acmd := alice.program(nil, "bash", "-c", `keyctl-go new_session && k=$(keyctl-go add user secret "alice's-secret" @s) && echo $k && keyctl-go print $k`)
	var aerr strings.Builder
	acmd.Stderr = &aerr
	out, err := acmd.Output()
	lines := strings.Fields(string(out))
	if err != nil || len(lines) != 3 || lines[2] != "alice's-secret" {
		t.Fatalf("alice: %q, %v, %s; want her session, key, and its payload", out, err, aerr.String())
	}
	session, key := lines[0], lines[1]

	cmd := bob.program(nil, "bash", "-c", `
keyctl-go new_session >"$XDG_RUNTIME_DIR/new" || exit 1
echo own $(cat "$XDG_RUNTIME_DIR/new") $(keyctl-go id @s)
P="$XDG_RUNTIME_DIR/keyctl-go/parents"
f=$(ls "$P")
sed -i "s/^session .*/session $1/" "$P/$f"
keyctl-go id @s; echo id=$?
keyctl-go print $2; echo print=$?
`, "bash", session, key)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("bob: %v: %s", err, stderr.String())
	}
	got := stdout.String()
	if own := strings.Fields(strings.SplitN(got, "\n", 2)[0]); len(own) != 3 || own[1] != own[2] {
		t.Errorf("bob's own record: %q; want his new session as @s", own)
	}
	if strings.Contains(got, "alice") || strings.Contains(got, session+"\n") ||
		!strings.Contains(got, "id=1\n") || !strings.Contains(got, "print=1\n") {
		t.Errorf("bob with a record naming alice's session %s: %q; want every command refused", session, got)
	}
	if want := "the session new_session gave process"; strings.Count(stderr.String(), want) != 2 ||
		strings.Count(stderr.String(), "another user's keyring: permission denied") != 2 {
		t.Errorf("bob's errors: %q; want Permission denied for the session recorded, twice", stderr.String())
	}
}

// A record for a process that had the parent's pid before it (another
// start time) is not the parent's: @s is as without it, and the next
// new_session sweeps it, letting its session go.
func TestNewSessionIgnoresAndSweepsARecordOfAReusedPID(t *testing.T) {
	env, _, runtimeDir := newSessionEnv(t)
	parents := filepath.Join(daemon.UserDir(runtimeDir), "parents")
	out := t.TempDir()
	got := bashLines(t, env, `
echo start $(keyctl-go id @s)
keyctl-go new_session >"$1/new" || exit 1
echo new $(cat "$1/new")
f=$(ls "$2"); pid=${f%%-*}; rest=${f#*-}; start=${rest%%-*}; store=${rest#*-}
mv "$2/$f" "$2/$pid-$((start-1))-$store"
echo stale $(keyctl-go id @s)
`, out, parents)
	start, made := first(got["start"]), first(got["new"])
	if s := first(got["stale"]); s != start || made == start {
		t.Errorf("@s with the record of an earlier process of the pid: %s; want %s, not %s", s, start, made)
	}
	bashLines(t, env, `keyctl-go new_session >/dev/null; true`)
	if entries, _ := os.ReadDir(parents); len(entries) != 1 {
		t.Errorf("%d records after the sweep; want the last shell's alone", len(entries))
	}
	cmd := exec.Command(keyctlGo, "describe", made)
	cmd.Env = env
	if b, err := cmd.CombinedOutput(); err == nil || !strings.HasSuffix(string(b), "Required key not available\n") {
		t.Errorf("the stale record's session after the sweep: %q, %v; want it collected", b, err)
	}
}
