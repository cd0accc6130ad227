//go:build linux

package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// runWatchSession runs keyctl-go watch_session with the given options and
// a shell script as its program, in a fresh store, with keyctl-go on the
// PATH, and returns the program's stdout, keyctl-go's stderr, its exit
// status and the two logs. The daemon it starts is stopped afterwards.
func runWatchSession(t *testing.T, opts []string, script string) (stdout, stderr string, code int, notify, gc string) {
	t.Helper()
	dir := t.TempDir()
	db := filepath.Join(dir, "keys.db")
	t.Cleanup(func() { stopDaemonOf(t, db) })
	notifyLog, gcLog := filepath.Join(dir, "notify"), filepath.Join(dir, "gc")
	args := append([]string{"watch_session"}, opts...)
	args = append(args, notifyLog, gcLog, "5", "sh", "-c", script)
	cmd := exec.Command(keyctlGo, args...)
	cmd.Env = append(os.Environ(), "KEYCTL_GO_DB="+db, "KEYCTL_GO_SESSION=", "KEYCTL_GO_SOCKET=",
		"PATH="+filepath.Dir(keyctlGo)+":"+os.Getenv("PATH"))
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code = exitStatus(err)
	if err != nil && code == 1 && errb.Len() == 0 {
		t.Fatalf("watch_session: %v", err)
	}
	n, _ := os.ReadFile(notifyLog)
	g, _ := os.ReadFile(gcLog)
	return out.String(), errb.String(), code, string(n), string(g)
}

// serials replaces each distinct serial in text by $1, $2, ... in order of
// first appearance, reading names from the keys of the names map first.
func serials(text string, names map[string]string) string {
	return regexp.MustCompile(`[0-9]{5,10}`).ReplaceAllStringFunc(text, func(s string) string {
		if n, ok := names[s]; ok {
			return n
		}
		return s
	})
}

// watch_session logs the session keyring's changes to the notify log; a
// command below it adds a watch on a key through the fd, the changes to
// that key are logged too, watch_sync returns once they are, and watch_rm
// logs the watch's removal to the gc log. When the program exits, both
// logs end with "Monitoring terminated" and the program's status is
// watch_session's.
func TestWatchSessionLogsThroughTheFD(t *testing.T) {
	script := `
set -e
[ "$KEYCTL_WATCH_FD" = 5 ]
k=$(keyctl-go add user k1 v1 @s)
echo "key $k"
keyctl-go rdescribe @s
keyctl-go watch_add 5 "$k"
keyctl-go update "$k" v2
keyctl-go watch_sync 5
echo "--- synced"
cat "$(dirname "$KEYCTL_GO_DB")/notify"
keyctl-go watch_rm 5 "$k"
keyctl-go watch_sync 5
echo "--- gc"
cat "$(dirname "$KEYCTL_GO_DB")/gc"
keyctl-go unlink "$k" @s
exit 3`
	stdout, stderr, code, notify, gc := runWatchSession(t, nil, script)
	m := regexp.MustCompile(`^Joined session keyring: ([0-9]+)\n$`).FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("stderr %q, want keyctl's Joined line", stderr)
	}
	key := regexp.MustCompile(`key ([0-9]+)`).FindStringSubmatch(stdout)
	if key == nil || code != 3 {
		t.Fatalf("exit %d, stdout:\n%s", code, stdout)
	}
	names := map[string]string{m[1]: "S", key[1]: "K"}
	want := "key K\nkeyring;0;0;3f030000;_ses\n--- synced\nS link K\nK upd\n--- gc\nK gc\n"
	want = strings.ReplaceAll(want, ";0;0;", ";"+strconv.Itoa(os.Getuid())+";"+strconv.Itoa(os.Getgid())+";")
	if got := serials(stdout, names); got != want {
		t.Errorf("the program saw:\n%s\nwant:\n%s", got, want)
	}
	if got := serials(notify, names); got != "S link K\nK upd\nS unlk K\nMonitoring terminated\n" {
		t.Errorf("notify log:\n%s", got)
	}
	if got := serials(gc, names); got != "K gc\nMonitoring terminated\n" {
		t.Errorf("gc log:\n%s", got)
	}
}

// Removing the session's own watch ends the watcher, as in keyctl: it
// logs the removal and the program is sent SIGTERM. -f keeps only the
// subtypes asked for, -n names the session.
func TestWatchSessionEndsWhenItsWatchGoes(t *testing.T) {
	script := `
keyctl-go rdescribe @s
k=$(keyctl-go add user k1 v1 @s)
keyctl-go update "$k" v2
keyctl-go watch_rm 5 @s
exec sleep 30`
	stdout, stderr, code, notify, gc := runWatchSession(t, []string{"-fl", "-n", "named"}, script)
	m := regexp.MustCompile(`^Joined session keyring: ([0-9]+)\n$`).FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("stderr %q", stderr)
	}
	if code != 128+15 {
		t.Errorf("exit %d, want 143: the program ended by SIGTERM", code)
	}
	if !strings.HasSuffix(stdout, ";3f130000;named\n") {
		t.Errorf("@s is %q, want the session named by -n", stdout)
	}
	names := map[string]string{m[1]: "S"}
	if got := serials(notify, names); !regexp.MustCompile(`^S link [0-9]+\n$`).MatchString(got) {
		t.Errorf("notify log with -fl: %q, want only the link", got)
	}
	if got := serials(gc, names); got != "S gc\n" {
		t.Errorf("gc log %q, want the session's removal and no more", got)
	}
}

func TestWatchFDCommandErrors(t *testing.T) {
	db := filepath.Join(t.TempDir(), "keys.db")
	for _, tc := range []struct {
		args   []string
		stderr string
		code   int
	}{
		// fd 0 is no watch_session's: the kernel's EINVAL for a non-queue.
		{[]string{"watch_add", "0", "@u"}, "keyctl_watch_key: Invalid argument\n", 1},
		{[]string{"watch_rm", "x", "@u"}, "keyctl_watch_key: Invalid argument\n", 1},
		{[]string{"watch_add", "3", "abc"}, "Unparsable key: 'abc'\n", 2},
		{[]string{"watch_sync", "0"}, "ioctl(FIONREAD): Inappropriate ioctl for device\n", 1},
		{[]string{"watch_session", "n", "g", "2", "true"}, "The target fd must be between 3 and 9\n", 2},
		{[]string{"watch_session", "n", "g", "10", "true"}, "The target fd must be between 3 and 9\n", 2},
		{[]string{"watch_session", "-z", "n", "g", "3", "true"}, "watch_session: invalid option -- 'z'\nUnknown option\n", 2},
		{[]string{"watch_session", "-fx", "n", "g", "3", "true"}, "Unknown filter character 'x'\n", 2},
		{[]string{"watch_session", "-n"}, "watch_session: option requires an argument -- 'n'\nUnknown option\n", 2},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			out, errs, code := keyctlRun(t, db, "", tc.args...)
			if code != tc.code || out != "" || errs != tc.stderr {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, %q", code, out, errs, tc.code, tc.stderr)
			}
		})
	}
	for _, args := range [][]string{{"watch_add", "3"}, {"watch_rm"}, {"watch_sync"}, {"watch_sync", "3", "4"}, {"watch_session", "n", "g", "3"}} {
		if _, _, code := keyctlRun(t, db, "", args...); code != 2 {
			t.Errorf("%v: exit %d, want the usage's 2", args, code)
		}
	}
}

func TestGetopt(t *testing.T) {
	a := newApp(strings.NewReader(""), &strings.Builder{}, &strings.Builder{}, func(string) string { return "" })
	opts, rest, err := getopt(a, "watch_session", []string{"-dfli", "-n", "x", "-fs", "--", "-a", "b"}, "+df:n:")
	if err != nil {
		t.Fatal(err)
	}
	got := ""
	for _, o := range opts {
		got += string(o.name) + "=" + o.arg + ";"
	}
	if got != "d=;f=li;n=x;f=s;" || strings.Join(rest, " ") != "-a b" {
		t.Errorf("options %q, rest %q", got, rest)
	}
	// keyctl watch's getopt("f:") permutes: options after the key count.
	opts, rest, err = getopt(a, "watch", []string{"@s", "-fl", "x", "-f", "n", "--", "-fz"}, "f:")
	if err != nil || len(opts) != 2 || opts[0].arg != "l" || opts[1].arg != "n" || strings.Join(rest, " ") != "@s x -fz" {
		t.Errorf("permuted: options %v, rest %q, %v", opts, rest, err)
	}
}
