//go:build linux

package cli

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/keyctl-go/keyctl-go/internal/etcdtest"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/perms"
)

var update = flag.Bool("update", false, "regenerate testdata/golden/keyctl from the real keyctl and kernel")

const goldenDir = "../../../testdata/golden/keyctl"

// keyctlGo is keyctl-go built once for the tests that run it as a process.
var keyctlGo string

func TestMain(m *testing.M) {
	// testscript runs this very binary, under the name keyctl-go, for the
	// scripts' keyctl-go commands (see script_test.go); only the top-level
	// run builds anything.
	// A request_key helper's "keyctl" is keyctl-go too (callout.go).
	keyctlGoMain := func() { os.Exit(Main(Config{})) }
	commands := map[string]func(){"keyctl-go": keyctlGoMain, "keyctl": keyctlGoMain}
	if _, ok := commands[filepath.Base(os.Args[0])]; ok {
		testscript.Main(m, commands)
	}
	flag.Parse()
	if f := flag.Lookup("test.fuzzworker"); f != nil && f.Value.String() == "true" {
		// A fuzzing worker runs only the fuzz target: no binary needed.
		testscript.Main(m, commands)
	}
	dir, err := os.MkdirTemp("", "keyctl-go-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// Per-user daemons' sockets go under $XDG_RUNTIME_DIR: this run's
	// own, not a directory shared with other runs.
	os.Setenv("XDG_RUNTIME_DIR", filepath.Join(dir, "run"))
	// Both builds, side by side as an install puts them, so that
	// keyctl-go hands --etcd over to keyctl-go-etcd as it would there.
	keyctlGo = filepath.Join(dir, "keyctl-go")
	for _, prog := range []string{"keyctl-go", EtcdProgram} {
		out, err := exec.Command("go", "build", "-o", filepath.Join(dir, prog), "../../../cmd/"+prog).CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n%s", prog, err, out)
			os.Exit(1)
		}
	}
	testscript.Main(runThenRemove{m, dir}, commands)
}

// runThenRemove runs the tests, then removes the built binary's
// directory: testscript.Main exits as soon as they have run.
type runThenRemove struct {
	m   *testing.M
	dir string
}

func (r runThenRemove) Run() int {
	defer os.RemoveAll(r.dir)
	defer etcdtest.Stop() // the etcd tests' shared cluster, if they started it
	return r.m.Run()
}

func scenarios(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(goldenDir, "scenarios", "*.sh"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		if name := strings.TrimSuffix(filepath.Base(f), ".sh"); name != "prelude" {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		t.Fatal("no scenarios")
	}
	return names
}

// script is the shell command that runs one scenario after the prelude.
func script(name string) string {
	dir, _ := filepath.Abs(filepath.Join(goldenDir, "scenarios"))
	return fmt.Sprintf(`. '%s/prelude.sh'; . '%s/%s.sh'`, dir, dir, name)
}

// TestGolden runs every scenario through keyctl-go, each against a fresh
// store with a session keyring made to look like keyctl's "_ses", and
// compares what a user would see with what the real keyctl printed. With
// -update it regenerates the golden files from the real keyctl instead.
func TestGolden(t *testing.T) {
	for _, name := range scenarios(t) {
		t.Run(name, func(t *testing.T) {
			if slowScenarios[name] && testing.Short() && !*update {
				t.Skip("slow on the store; run without -short")
			}
			if name == "callouts" {
				skipWithoutDebianRequestKey(t)
			}
			golden := filepath.Join(goldenDir, name+".txt")
			if *update {
				writeGolden(t, name, golden)
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			got := runOurs(t, name)
			compareRecords(t, name, string(want), got)
		})
	}
}

// skipWithoutDebianRequestKey skips a scenario whose helpers are the ones
// Debian's keyutils installs: /etc/request-key.conf as it ships, and the
// debugging script it names.
func skipWithoutDebianRequestKey(t *testing.T) {
	t.Helper()
	want, err := os.ReadFile("../../../requestkey/testdata/debian-request-key.conf")
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("/etc/request-key.conf")
	if err != nil || !bytes.Equal(got, want) {
		t.Skip("needs Debian's /etc/request-key.conf as keyutils 1.6.3 installs it (apt-get install keyutils)")
	}
	if _, err := os.Stat("/usr/share/keyutils/request-key-debug.sh"); err != nil {
		t.Skip("needs keyutils' request-key-debug.sh (apt-get install keyutils)")
	}
}

// slowScenarios take seconds on the store (thousands of committed
// changes) and are skipped with -short.
var slowScenarios = map[string]bool{"testlimits": true}

// realKeyctl is keyutils' keyctl: the first keyctl in $PATH that is not
// this test binary, which testscript.Main puts first in $PATH under that
// name (see TestMain), so that a plain LookPath finds keyctl-go.
func realKeyctl() (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		p, err := exec.LookPath(filepath.Join(dir, "keyctl"))
		if err != nil || sameFile(p, self) {
			continue
		}
		return p, nil
	}
	return "", exec.ErrNotFound
}

// sameFile reports whether a and b are one file, or copies of each other.
func sameFile(a, b string) bool {
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	if errA != nil || errB != nil || os.SameFile(sa, sb) {
		return errA == nil && errB == nil
	}
	if sa.Size() != sb.Size() {
		return false
	}
	ca, errA := os.ReadFile(a)
	cb, errB := os.ReadFile(b)
	return errA == nil && errB == nil && bytes.Equal(ca, cb)
}

func writeGolden(t *testing.T, name, golden string) {
	keyctl, err := realKeyctl()
	if err != nil {
		t.Skip("keyctl is not installed")
	}
	cmd := exec.Command(keyctl, "session", "-", "sh", "-c", script(name))
	cmd.Env = append(os.Environ(), "KEYCTL="+keyctl, "T="+t.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("keyctl session: %v\n%s", err, stderr.String())
	}
	joined := strings.TrimPrefix(strings.TrimSpace(stderr.String()), "Joined session keyring: ")
	text := fmt.Sprintf("# scenarios/%s.sh run by keyctl from keyutils-1.6.3; format in README.md\nsession %s\n%s", name, joined, stdout.String())
	if err := os.WriteFile(golden, []byte(normalize(text)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// runOurs runs a scenario with keyctl-go as $KEYCTL, in a session keyring
// prepared as keyctl session - would have it: named "_ses", mask 0x3f030000.
func runOurs(t *testing.T, name string) string {
	t.Helper()
	db := filepath.Join(t.TempDir(), "keys.db")
	session := prepareSession(t, db)
	cmd := exec.Command("sh", "-c", script(name))
	cmd.Env = append(os.Environ(), "KEYCTL="+keyctlGo, "T="+t.TempDir(),
		"KEYCTL_GO_DB="+db, "KEYCTL_GO_SESSION="+strconv.Itoa(int(session)))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("scenario: %v\n%s", err, stderr.String())
	}
	text := fmt.Sprintf("# scenarios/%s.sh run by keyctl from keyutils-1.6.3; format in README.md\nsession %d\n%s", name, session, stdout.String())
	return normalize(text)
}

func prepareSession(t *testing.T, db string) keyring.Serial {
	t.Helper()
	ctx := context.Background()
	s, err := keyring.Open(db, keyring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p := s.Process(callerCred())
	id, err := p.JoinSession(ctx, "_ses")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.SetPerm(ctx, id, perms.DefaultSessionKeyring); err != nil {
		t.Fatal(err)
	}
	// Pinned, as keyctl-go session pins its session while its program
	// runs: a session nothing holds is collected.
	if _, err := p.PinSession(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Release(ctx); err != nil {
		t.Fatal(err)
	}
	return id
}

var (
	// serialRE finds serials: decimal numbers of six digits or more (key
	// serials are random 31-bit numbers, so a shorter one is one chance in
	// tens of thousands per key), and the 0x%08x ids of show -x.
	// The spaces before a serial are taken with it and become one, since
	// keyctl pads serials to a width that the names do not have.
	serialRE = regexp.MustCompile(`(?m) *\b[0-9]{6,10}\b|^> 0x[0-9a-f]{8}\b`)
)

// normalize names each distinct serial %1, %2, ... in order of first
// appearance, so runs with different random serials compare equal.
func normalize(text string) string {
	names := map[uint64]string{}
	return serialRE.ReplaceAllStringFunc(text, func(s string) string {
		prefix := ""
		if trimmed := strings.TrimLeft(s, " "); trimmed != s {
			prefix, s = " ", trimmed
		}
		var n uint64
		var err error
		if strings.HasPrefix(s, "> 0x") {
			prefix = "> "
			n, err = strconv.ParseUint(s[4:], 16, 32)
		} else {
			n, err = strconv.ParseUint(s, 10, 64)
		}
		if err != nil {
			return s
		}
		name, ok := names[n]
		if !ok {
			name = fmt.Sprintf("%%%d", len(names)+1)
			names[n] = name
		}
		return prefix + name
	})
}

// knownDifferences are records where keyctl-go does not yet answer as
// keyctl does, by scenario and command line, with the reason. They are
// logged, not failed, so the list stays visible and short.
var knownDifferences = map[string]string{
	"errors/$ keyctl print %5": "the kernel answers EACCES for reading a just-invalidated key, the store ENOKEY (package keyring)",
}

// record is one command in a golden file: its "$ keyctl ..." line and the
// lines that follow it.
type record struct {
	cmd  string
	body []string
}

func parseRecords(text string) []record {
	var recs []record
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "$ ") {
			recs = append(recs, record{cmd: line})
		} else if len(recs) > 0 && line != "" {
			recs[len(recs)-1].body = append(recs[len(recs)-1].body, line)
		}
	}
	return recs
}

// compareRecords compares record by record. Where keyctl-go differs by
// design the comparison is looser: listings (list, rlist, show) are compared
// as sets, since the kernel lists a keyring in hash order and the store in
// insertion order; --version names keyctl-go; supports reports the store's
// capabilities, not the kernel's.
func compareRecords(t *testing.T, scenario, want, got string) {
	t.Helper()
	w, g := parseRecords(want), parseRecords(got)
	if len(w) != len(g) {
		t.Errorf("%d records, want %d", len(g), len(w))
	}
	for i := range min(len(w), len(g)) {
		if w[i].cmd != g[i].cmd {
			t.Fatalf("record %d: command %q, want %q", i, g[i].cmd, w[i].cmd)
		}
		fields := strings.Fields(w[i].cmd)
		verb := ""
		if len(fields) > 2 {
			verb = fields[2]
		}
		wb, gb := w[i].body, g[i].body
		switch verb {
		case "--version":
			if len(gb) != 2 || !strings.Contains(gb[0], "keyctl-go") || !strings.Contains(gb[0], "keyutils-1.6.3") {
				t.Errorf("%s:\n%s\nwant a line naming keyctl-go and keyutils-1.6.3", g[i].cmd, strings.Join(gb, "\n"))
			}
			continue
		case "supports":
			if len(fields) <= 4 {
				continue
			}
		case "list", "show", "purge", "reap":
			// purge and reap walk keyrings in their order too.
			wb, gb = sorted(wb), sorted(gb)
		case "rlist":
			wb, gb = sortedWords(wb), sortedWords(gb)
		}
		if !slices.Equal(wb, gb) {
			if why, ok := knownDifferences[scenario+"/"+g[i].cmd]; ok {
				t.Logf("known difference: %s: %s", g[i].cmd, why)
				continue
			}
			t.Errorf("%s\ngot:\n%s\nwant:\n%s", g[i].cmd, strings.Join(gb, "\n"), strings.Join(wb, "\n"))
		}
	}
}

func sorted(lines []string) []string {
	s := slices.Clone(lines)
	slices.Sort(s)
	return s
}

func sortedWords(lines []string) []string {
	var words []string
	for _, l := range lines {
		words = append(words, strings.Fields(l)...)
	}
	slices.Sort(words)
	return words
}
